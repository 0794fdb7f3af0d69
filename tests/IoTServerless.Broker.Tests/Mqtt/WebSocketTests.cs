using IoTServerless.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTServerless.Broker.Tests.Mqtt;

/// <summary>MQTT over secure WebSockets at /mqtt with a client certificate.</summary>
public sealed class WebSocketTests : BrokerTestBase
{
    MqttClientOptions Options(string clientId) => new MqttClientOptionsBuilder()
        .WithClientId(clientId)
        .WithWebSocketServer(o => o.WithUri($"wss://127.0.0.1:{Broker.WebSocketPort}/mqtt"))
        .WithTlsOptions(tls => tls.UseTls()
            .WithClientCertificates([Pki.Device(clientId)])
            .WithCertificateValidationHandler(_ => true))
        .Build();

    [Fact]
    public async Task ConnectOverWss_withDeviceCertificate_publishesAndReceives()
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(Options("ws-device"));
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

    [Fact]
    public async Task RetainedMessage_publishedAndSubscribedOverWss_arrivesWithItsRetainFlag()
    {
        using var publisher = new MqttClientFactory().CreateMqttClient();
        await publisher.ConnectAsync(Options("ws-pub"));
        await publisher.PublishStringAsync("ws/pump-1/cmd", "on", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);
        using var subscriber = new MqttClientFactory().CreateMqttClient();
        await subscriber.ConnectAsync(Options("ws-sub"));
        var received = new TaskCompletionSource<(string, bool)>(TaskCreationOptions.RunContinuationsAsynchronously);
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            received.TrySetResult((e.ApplicationMessage.ConvertPayloadToString(), e.ApplicationMessage.Retain));
            return Task.CompletedTask;
        };

        await subscriber.SubscribeAsync("ws/+/cmd", MqttQualityOfServiceLevel.AtLeastOnce);

        Assert.Equal(("on", true), await received.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        await publisher.PublishStringAsync("ws/pump-1/cmd", "", retain: true);
    }
}
