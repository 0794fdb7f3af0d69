using System.Security.Cryptography.X509Certificates;
using IoTServerless.Broker.Security;
using IoTServerless.Testing;
using MQTTnet;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet.Protocol;

namespace IoTServerless.Broker.Tests.Mqtt;

/// <summary>
/// MQTT over WebSockets behind a TLS-terminating ingress (Azure Container Apps on 443): the device's
/// certificate arrives in <c>X-Forwarded-Client-Cert</c> and is checked as on the TLS listeners.
/// </summary>
public sealed class ForwardedWebSocketTests : BrokerTestBase
{
    protected override Task<IDictionary<string, string?>?> SettingsAsync() => Task.FromResult<IDictionary<string, string?>?>(new Dictionary<string, string?>
    {
        ["Broker:WebSockets:Forwarded:Enabled"] = "true",
        ["Broker:WebSockets:Forwarded:BindAddress"] = "127.0.0.1",
        ["Broker:WebSockets:Forwarded:Port"] = "0",
    });

    /// <summary>Envoy's header as Container Apps sends it: hash, then the URL-encoded PEM.</summary>
    static string Xfcc(X509Certificate2 certificate)
        => $"Hash={certificate.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256)};Cert=\"{Uri.EscapeDataString(certificate.ExportCertificatePem())}\";Subject=\"{certificate.Subject}\"";

    MqttClientOptions Options(string clientId, int port, string? header)
    {
        var headers = new Dictionary<string, string>();
        if (header is not null)
        {
            headers["X-Forwarded-Client-Cert"] = header;
        }
        return new MqttClientOptionsBuilder()
            .WithClientId(clientId)
            .WithWebSocketServer(o => o.WithUri($"ws://127.0.0.1:{port}/mqtt").WithRequestHeaders(headers))
            .WithTimeout(TimeSpan.FromSeconds(10))
            .Build();
    }

    [Fact]
    public async Task Connect_withForwardedDeviceCertificate_publishesAndReceives()
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(Options("fwd-device", Broker.Listeners.ForwardedWebSocketPort, Xfcc(Pki.Device("fwd-device"))));
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.ApplicationMessageReceivedAsync += e =>
        {
            received.TrySetResult(e.ApplicationMessage.ConvertPayloadToString());
            return Task.CompletedTask;
        };
        await client.SubscribeAsync("fwd/test", MqttQualityOfServiceLevel.AtLeastOnce);
        await client.PublishStringAsync("fwd/test", "through-the-ingress", MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.Equal("through-the-ingress", await received.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Device_droppingItsWebSocketInsideAPacket_isGoneAtOnce_notAtItsKeepAlive()
    {
        using var ws = new System.Net.WebSockets.ClientWebSocket();
        ws.Options.AddSubProtocol("mqtt");
        ws.Options.SetRequestHeader("X-Forwarded-Client-Cert", Xfcc(Pki.Device("ws-half")));
        await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{Broker.Listeners.ForwardedWebSocketPort}/mqtt"), CancellationToken.None);
        byte[] connect = [0x10, 0x13, 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x07, .. "ws-half"u8];
        await ws.SendAsync(connect, System.Net.WebSockets.WebSocketMessageType.Binary, true, CancellationToken.None);
        var connack = new byte[4];
        var read = await ws.ReceiveAsync(connack, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((4, (byte)0x20), (read.Count, connack[0]));

        // The first 4 bytes of a QoS 1 PUBLISH, then the link drops without a close handshake.
        await ws.SendAsync(RawMqtt.Publish("ws-half/soil", "reading-0123456789", qos: 1, packetId: 1).AsMemory(0, 4), System.Net.WebSockets.WebSocketMessageType.Binary, true, CancellationToken.None);
        await Task.Delay(200);
        ws.Abort();

        Assert.True(await Eventually.TrueAsync(async () => !(await Broker.Server.GetClientsAsync()).Any(c => c.Id == "ws-half"), TimeSpan.FromSeconds(10)),
            "the device is still listed as connected 10 s after its WebSocket dropped");
    }

    [Fact]
    public async Task Connect_withoutForwardedCertificate_isRefused()
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        await Assert.ThrowsAnyAsync<Exception>(() => client.ConnectAsync(Options("no-cert", Broker.Listeners.ForwardedWebSocketPort, header: null)));
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task Connect_withCertificateOfAnUnknownCa_isRefused()
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        await Assert.ThrowsAnyAsync<Exception>(() => client.ConnectAsync(Options("rogue", Broker.Listeners.ForwardedWebSocketPort, Xfcc(Pki.RogueDevice("rogue")))));
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task Connect_withCertificateNotForClientAuthentication_isRefused()
    {
        // The same rule as at the TLS handshake: the trusted CA issued it, but for server authentication only.
        using var client = new MqttClientFactory().CreateMqttClient();
        await Assert.ThrowsAnyAsync<Exception>(() => client.ConnectAsync(Options("pump-007", Broker.Listeners.ForwardedWebSocketPort, Xfcc(Pki.ServerOnlyDevice("pump-007")))));
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task Middleware_onAnotherListener_ignoresAForgedHeader()
    {
        // On the TLS listeners the certificate is the handshake's; a header must not replace it.
        var middleware = ActivatorUtilities.CreateInstance<ForwardedClientCertificateMiddleware>(Broker.Services, (RequestDelegate)(_ => Task.CompletedTask));
        var context = new DefaultHttpContext();
        context.Connection.LocalPort = Broker.WebSocketPort;
        context.Request.Headers["X-Forwarded-Client-Cert"] = Xfcc(Pki.Device("forged"));

        await middleware.InvokeAsync(context);

        Assert.Null(context.Connection.ClientCertificate);
        Assert.Equal(StatusCodes.Status200OK, context.Response.StatusCode);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Hash=abc")]
    [InlineData("Cert=\"not-a-certificate\"")]
    [InlineData("%%%")]
    public void Parse_malformedHeader_isNull(string header) => Assert.Null(ForwardedClientCertificate.Parse(header));

    [Fact]
    public void Parse_plainPemAndBase64Der_readTheCertificate()
    {
        var device = Pki.Device("parse-me");
        Assert.Equal(device.Thumbprint, ForwardedClientCertificate.Parse(device.ExportCertificatePem())!.Thumbprint);
        Assert.Equal(device.Thumbprint, ForwardedClientCertificate.Parse(Convert.ToBase64String(device.RawData))!.Thumbprint);
        Assert.Equal(device.Thumbprint, ForwardedClientCertificate.Parse(Xfcc(device))!.Thumbprint);
    }
}
