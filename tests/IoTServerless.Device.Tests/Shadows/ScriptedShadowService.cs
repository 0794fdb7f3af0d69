using System.Buffers;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using IoTServerless.Core.Security;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTServerless.Device.Tests.Shadows;

/// <summary>A shadow request as the service saw it: its topic, the topic prefix and operation, and the JSON body.</summary>
public sealed record ShadowRequest(string Topic, string Prefix, string Operation, JsonObject Body)
{
    public string? ClientToken => Body["clientToken"]?.GetValue<string>();
}

/// <summary>
/// The platform's side of the shadow topics, played by a second MQTT client over the same mutual-TLS
/// broker: it subscribes to <c>$aws/things/+/shadow/#</c>, queues every get/update/delete request
/// (classic or named) for the test, and publishes whatever answers the test scripts.
/// </summary>
public sealed class ScriptedShadowService : IAsyncDisposable
{
    readonly IMqttClient _mqtt = new MqttClientFactory().CreateMqttClient();
    readonly Channel<ShadowRequest> _requests = Channel.CreateUnbounded<ShadowRequest>();
    readonly X509Certificate2 _certificate;

    ScriptedShadowService(X509Certificate2 certificate) => _certificate = certificate;

    /// <summary>When set, called for each request (instead of queueing it).</summary>
    public Func<ShadowRequest, Task>? Responder { get; set; }

    public static async Task<ScriptedShadowService> StartAsync(TestPki pki, int port)
    {
        using var issued = CertificateFactory.CreateDeviceCertificate(pki.Ca, "shadow-service");
        var certificate = X509CertificateLoader.LoadPkcs12(issued.Export(X509ContentType.Pkcs12), null);
        var service = new ScriptedShadowService(certificate);
        service._mqtt.ApplicationMessageReceivedAsync += service.OnMessageAsync;
        var options = new MqttClientOptionsBuilder()
            .WithClientId("shadow-service")
            .WithTcpServer("127.0.0.1", port)
            .WithCleanSession()
            .WithTlsOptions(tls => tls
                .UseTls()
                .WithTargetHost("localhost")
                .WithSslProtocols(SslProtocols.Tls12 | SslProtocols.Tls13)
                .WithClientCertificates([certificate])
                .WithCertificateValidationHandler(_ => true))
            .Build();
        await service._mqtt.ConnectAsync(options);
        await service._mqtt.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic("$aws/things/+/shadow/#").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce))
            .Build());
        return service;
    }

    public async Task<ShadowRequest> NextRequestAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        return await _requests.Reader.ReadAsync(cts.Token);
    }

    /// <summary>True when a request arrived (and was queued) that nobody has taken yet.</summary>
    public bool HasQueuedRequest => _requests.Reader.Count > 0;

    /// <summary>Publishes <paramref name="body"/> on <c>{request}/accepted</c>, echoing the request's clientToken unless the body has one.</summary>
    public Task AcceptAsync(ShadowRequest request, JsonObject body)
    {
        if (!body.ContainsKey("clientToken") && request.ClientToken is { } token)
        {
            body["clientToken"] = token;
        }
        return PublishAsync($"{request.Topic}/accepted", body.ToJsonString());
    }

    /// <summary>Publishes <c>{"code":…,"message":…,"timestamp":…,"clientToken":…}</c> on <c>{request}/rejected</c>.</summary>
    public Task RejectAsync(ShadowRequest request, int code, string message, string? clientToken = null)
        => PublishAsync($"{request.Topic}/rejected", new JsonObject
        {
            ["code"] = code,
            ["message"] = message,
            ["timestamp"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["clientToken"] = clientToken ?? request.ClientToken,
        }.ToJsonString());

    public async Task PublishAsync(string topic, string payload)
    {
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(Encoding.UTF8.GetBytes(payload))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();
        await _mqtt.PublishAsync(message);
    }

    public async ValueTask DisposeAsync()
    {
        _mqtt.ApplicationMessageReceivedAsync -= OnMessageAsync;
        if (_mqtt.IsConnected)
        {
            await _mqtt.DisconnectAsync();
        }
        _mqtt.Dispose();
        _certificate.Dispose();
    }

    async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        var topic = e.ApplicationMessage.Topic;
        var slash = topic.LastIndexOf('/');
        var operation = topic[(slash + 1)..];
        if (operation is not ("get" or "update" or "delete"))
        {
            return; // the service's own responses and deltas
        }
        var body = JsonNode.Parse(e.ApplicationMessage.Payload.ToArray()) as JsonObject ?? [];
        var request = new ShadowRequest(topic, topic[..slash], operation, body);
        if (Responder is { } responder)
        {
            // Off the receive loop: the responder publishes and awaits its PUBACKs.
            _ = Task.Run(() => responder(request));
            return;
        }
        await _requests.Writer.WriteAsync(request);
    }
}
