using IoTServerless.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTServerless.Broker.Tests.Mqtt;

/// <summary>MQTT over secure WebSockets at /mqtt with a client certificate.</summary>
public sealed class WebSocketTests : BrokerTestBase
{
    [Fact]
    public async Task ConnectOverWss_withDeviceCertificate_publishesAndReceives()
    {
        var options = new MqttClientOptionsBuilder()
            .WithClientId("ws-device")
            .WithWebSocketServer(o => o.WithUri($"wss://127.0.0.1:{Broker.WebSocketPort}/mqtt"))
            .WithTlsOptions(tls => tls.UseTls()
                .WithClientCertificates([Pki.Device("ws-device")])
                .WithCertificateValidationHandler(_ => true))
            .Build();
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(options);
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.ApplicationMessageReceivedAsync += e =>
        {
            received.TrySetResult(e.ApplicationMessage.ConvertPayloadToString());
            return Task.CompletedTask;
        };
        await client.SubscribeAsync("ws/test", MqttQualityOfServiceLevel.AtLeastOnce);
        await client.PublishStringAsync("ws/test", "over-websockets", MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.Equal("over-websockets", await received.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }
}
