using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using IoTServerless.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTServerless.EndToEnd.Tests.Shadows;

/// <summary>
/// A device speaking the shadow protocol with a plain MQTTnet client over mutual TLS, as AWS IoT
/// firmware does: it subscribes to the response topics it needs and reads what arrives on each.
/// </summary>
internal sealed class ShadowDevice : IAsyncDisposable
{
    readonly IMqttClient _client;
    readonly ConcurrentDictionary<string, Channel<JsonObject>> _topics = new(StringComparer.Ordinal);

    ShadowDevice(IMqttClient client, string thingName, string? shadowName)
    {
        _client = client;
        Prefix = shadowName is null ? $"$aws/things/{thingName}/shadow" : $"$aws/things/{thingName}/shadow/name/{shadowName}";
        _client.ApplicationMessageReceivedAsync += e =>
        {
            var node = JsonNode.Parse(e.ApplicationMessage.ConvertPayloadToString())!.AsObject();
            Channel(e.ApplicationMessage.Topic).Writer.TryWrite(node);
            return Task.CompletedTask;
        };
    }

    public string Prefix { get; }

    /// <summary>
    /// Connects as <paramref name="clientId"/> (default: the thing name) and subscribes to each of
    /// <paramref name="responses"/> (e.g. "update/accepted"; default: all of them).
    /// </summary>
    public static async Task<ShadowDevice> ConnectAsync(LocalStack stack, string thingName, string? shadowName = null, string? clientId = null, params string[] responses)
    {
        clientId ??= thingName;
        var client = await TestMqtt.ConnectAsync(clientId, stack.Broker.MqttPort, stack.Pki.Device(clientId), stack.Pki.Ca);
        var device = new ShadowDevice(client, thingName, shadowName);
        var subscribe = new MqttClientSubscribeOptionsBuilder();
        foreach (var response in responses.Length > 0 ? responses : AllResponses)
        {
            subscribe.WithTopicFilter($"{device.Prefix}/{response}", MqttQualityOfServiceLevel.AtLeastOnce);
        }
        await client.SubscribeAsync(subscribe.Build());
        return device;
    }

    public static readonly string[] AllResponses =
        ["get/accepted", "get/rejected", "update/accepted", "update/rejected", "update/delta", "update/documents", "delete/accepted", "delete/rejected"];

    Channel<JsonObject> Channel(string topic) => _topics.GetOrAdd(topic, _ => System.Threading.Channels.Channel.CreateUnbounded<JsonObject>());

    public Task PublishAsync(string operation, string payload)
        => _client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic($"{Prefix}/{operation}")
            .WithPayload(Encoding.UTF8.GetBytes(payload))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());

    /// <summary>The next message on <c>{prefix}/{response}</c>.</summary>
    public async Task<JsonObject> NextAsync(string response, TimeSpan? timeout = null)
        => await Channel($"{Prefix}/{response}").Reader.ReadAsync().AsTask().WaitAsync(timeout ?? TimeSpan.FromSeconds(20));

    /// <summary>Whether a message arrives on <c>{prefix}/{response}</c> within <paramref name="wait"/>.</summary>
    public async Task<bool> AnyWithinAsync(string response, TimeSpan wait)
    {
        try
        {
            await NextAsync(response, wait);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>Publishes a request and returns the accepted or rejected answer carrying its client token.</summary>
    public async Task<(bool Accepted, JsonObject Body)> RequestAsync(string operation, JsonObject request)
    {
        var token = Guid.NewGuid().ToString("N");
        request["clientToken"] = token;
        await PublishAsync(operation, request.ToJsonString());
        var accepted = Channel($"{Prefix}/{operation}/accepted").Reader;
        var rejected = Channel($"{Prefix}/{operation}/rejected").Reader;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            var a = accepted.WaitToReadAsync(timeout.Token).AsTask();
            var r = rejected.WaitToReadAsync(timeout.Token).AsTask();
            await Task.WhenAny(a, r);
            timeout.Token.ThrowIfCancellationRequested();
            if (accepted.TryRead(out var body) && body["clientToken"]?.GetValue<string>() == token)
            {
                return (true, body);
            }
            if (rejected.TryRead(out body) && body["clientToken"]?.GetValue<string>() == token)
            {
                return (false, body);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            await _client.DisconnectAsync();
        }
        _client.Dispose();
    }
}
