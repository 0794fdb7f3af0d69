using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using IoTServerless.Device;

namespace FarmSimulator.Tests;

/// <summary>
/// An in-memory classic-shadow service over MQTT, per the contract's "Device shadow" section, enough
/// for a pump: get (404 when absent), update (merge, <c>null</c> removes a key, 409 on a stale
/// version, accepted echo, delta of every desired leaf missing from or different in reported) and
/// delete; every answer echoes the clientToken. It is a second device client subscribed to
/// <c>$aws/things/+/shadow/#</c>; requests are served one at a time off the receive path.
/// </summary>
public sealed class FakeShadowService : IAsyncDisposable
{
    readonly DeviceClient _client;
    readonly Channel<(string Topic, JsonObject? Body)> _requests = Channel.CreateUnbounded<(string, JsonObject?)>();
    readonly Lock _lock = new();
    readonly Dictionary<string, Document> _shadows = new(StringComparer.Ordinal);
    readonly List<(string Topic, JsonObject Body)> _served = [];
    readonly CancellationTokenSource _stop = new();
    Task _serving = Task.CompletedTask;

    FakeShadowService(DeviceClient client) => _client = client;

    /// <summary>While false, requests are dropped unanswered (the service is down).</summary>
    public bool Responding { get; set; } = true;

    /// <summary>Connects as <c>shadow-service</c> (its certificate must be in the broker's PKI).</summary>
    public static async Task<FakeShadowService> StartAsync(ShadowTestBroker broker)
    {
        var service = new FakeShadowService(broker.CreateClient("shadow-service"));
        await service._client.ConnectAsync(CancellationToken.None);
        await service._client.SubscribeAsync("$aws/things/+/shadow/#", QualityOfService.AtLeastOnce, service.OnMessageAsync, CancellationToken.None);
        service._serving = Task.Run(() => service.ServeAsync(service._stop.Token));
        return service;
    }

    /// <summary>What an application does: an update of the desired section (the delta goes out as usual).</summary>
    public Task SetDesiredAsync(string thing, JsonObject desired)
        => UpdateAsync(Prefix(thing), new JsonObject { ["desired"] = desired }, clientToken: null, expectedVersion: null);

    /// <summary>Publishes a raw message as the service (e.g. a stale delta).</summary>
    public Task PublishRawAsync(string topic, string payload)
        => _client.PublishAsync(topic, payload, QualityOfService.AtLeastOnce, retain: false, CancellationToken.None);

    /// <summary>Writes desired without publishing anything, as if the device missed the delta while offline.</summary>
    public void SetDesiredSilently(string thing, JsonObject desired)
    {
        lock (_lock)
        {
            var document = GetOrCreate(Prefix(thing));
            document.Desired = Merge(document.Desired, desired);
            document.Version++;
            document.Exists = true;
        }
    }

    /// <summary>Every request served so far: topic and body, in order.</summary>
    public IReadOnlyList<(string Topic, JsonObject Body)> Served()
    {
        lock (_lock)
        {
            return [.. _served];
        }
    }

    /// <summary>The stored shadow: desired, reported, delta (each null when empty), version; null when there is none.</summary>
    public (JsonObject? Desired, JsonObject? Reported, JsonObject? Delta, long Version)? Get(string thing)
    {
        lock (_lock)
        {
            if (!_shadows.TryGetValue(Prefix(thing), out var document) || !document.Exists)
            {
                return null;
            }
            return (Clone(document.Desired), Clone(document.Reported), Delta(document.Desired, document.Reported), document.Version);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _serving;
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
        await _client.DisposeAsync();
        _stop.Dispose();
    }

    static string Prefix(string thing) => $"$aws/things/{thing}/shadow";

    Task OnMessageAsync(string topic, ReadOnlyMemory<byte> payload)
    {
        var operation = topic[(topic.LastIndexOf('/') + 1)..];
        if (operation is "get" or "update" or "delete")
        {
            JsonObject? body;
            try
            {
                body = JsonNode.Parse(payload.Span) as JsonObject;
            }
            catch (System.Text.Json.JsonException)
            {
                body = null;
            }
            _requests.Writer.TryWrite((topic, body));
        }
        return Task.CompletedTask;
    }

    async Task ServeAsync(CancellationToken cancellationToken)
    {
        await foreach (var (topic, body) in _requests.Reader.ReadAllAsync(cancellationToken))
        {
            if (!Responding)
            {
                continue;
            }
            var slash = topic.LastIndexOf('/');
            var prefix = topic[..slash];
            var operation = topic[(slash + 1)..];
            lock (_lock)
            {
                _served.Add((topic, body ?? []));
            }
            var clientToken = body?["clientToken"]?.GetValue<string>();
            if (body is null)
            {
                await RejectAsync(topic, 400, "Payload contains invalid json", clientToken);
                continue;
            }
            switch (operation)
            {
                case "get":
                    await GetAsync(prefix, topic, clientToken);
                    break;
                case "update":
                    if (body["state"] is not JsonObject state)
                    {
                        await RejectAsync(topic, 400, "Missing required node: state", clientToken);
                        break;
                    }
                    long? expected = body["version"] is JsonValue v ? v.GetValue<long>() : null;
                    await UpdateAsync(prefix, state, clientToken, expected);
                    break;
                default:
                    await DeleteAsync(prefix, topic, clientToken);
                    break;
            }
        }
    }

    async Task GetAsync(string prefix, string topic, string? clientToken)
    {
        JsonObject response;
        lock (_lock)
        {
            if (!_shadows.TryGetValue(prefix, out var document) || !document.Exists)
            {
                response = [];
            }
            else
            {
                var state = new JsonObject();
                AddIfAny(state, "desired", Clone(document.Desired));
                AddIfAny(state, "reported", Clone(document.Reported));
                AddIfAny(state, "delta", Delta(document.Desired, document.Reported));
                response = new JsonObject { ["state"] = state, ["metadata"] = new JsonObject(), ["version"] = document.Version, ["timestamp"] = Now() };
            }
        }
        if (response.Count == 0)
        {
            await RejectAsync(topic, 404, $"No shadow exists with name: '{prefix.Split('/')[2]}'", clientToken);
            return;
        }
        response["clientToken"] = clientToken;
        await PublishAsync($"{topic}/accepted", response);
    }

    async Task UpdateAsync(string prefix, JsonObject state, string? clientToken, long? expectedVersion)
    {
        JsonObject accepted;
        JsonObject? delta;
        long version;
        lock (_lock)
        {
            var document = GetOrCreate(prefix);
            if (expectedVersion is { } expected && expected != document.Version)
            {
                accepted = [];
                delta = null;
                version = document.Version;
            }
            else
            {
                if (state.ContainsKey("desired"))
                {
                    document.Desired = state["desired"] is JsonObject d ? Merge(document.Desired, d) : null;
                }
                if (state.ContainsKey("reported"))
                {
                    document.Reported = state["reported"] is JsonObject r ? Merge(document.Reported, r) : null;
                }
                document.Version++;
                document.Exists = true;
                version = document.Version;
                accepted = new JsonObject { ["state"] = state.DeepClone(), ["metadata"] = new JsonObject(), ["version"] = version, ["timestamp"] = Now() };
                delta = Delta(document.Desired, document.Reported);
            }
        }
        if (accepted.Count == 0)
        {
            await RejectAsync($"{prefix}/update", 409, "Version conflict", clientToken);
            return;
        }
        accepted["clientToken"] = clientToken;
        await PublishAsync($"{prefix}/update/accepted", accepted);
        if (delta is not null)
        {
            await PublishAsync($"{prefix}/update/delta", new JsonObject { ["version"] = version, ["timestamp"] = Now(), ["state"] = delta, ["metadata"] = new JsonObject() });
        }
    }

    async Task DeleteAsync(string prefix, string topic, string? clientToken)
    {
        long? version = null;
        lock (_lock)
        {
            if (_shadows.TryGetValue(prefix, out var document) && document.Exists)
            {
                document.Exists = false;
                document.Desired = null;
                document.Reported = null;
                version = document.Version;
            }
        }
        if (version is null)
        {
            await RejectAsync(topic, 404, "No shadow exists", clientToken);
            return;
        }
        await PublishAsync($"{topic}/accepted", new JsonObject { ["version"] = version, ["timestamp"] = Now(), ["clientToken"] = clientToken });
    }

    Task RejectAsync(string topic, int code, string message, string? clientToken)
        => PublishAsync($"{topic}/rejected", new JsonObject { ["code"] = code, ["message"] = message, ["timestamp"] = Now(), ["clientToken"] = clientToken });

    Task PublishAsync(string topic, JsonObject body)
        => _client.PublishAsync(topic, Encoding.UTF8.GetBytes(body.ToJsonString()), QualityOfService.AtLeastOnce, retain: false, CancellationToken.None);

    Document GetOrCreate(string prefix)
    {
        if (!_shadows.TryGetValue(prefix, out var document))
        {
            document = new Document();
            _shadows[prefix] = document;
        }
        return document;
    }

    /// <summary>Merges <paramref name="patch"/> into <paramref name="target"/>: <c>null</c> removes a key, objects merge, anything else replaces.</summary>
    static JsonObject Merge(JsonObject? target, JsonObject patch)
    {
        target ??= [];
        foreach (var (key, value) in patch)
        {
            if (value is null)
            {
                target.Remove(key);
            }
            else if (value is JsonObject child && target[key] is JsonObject existing)
            {
                Merge(existing, child);
            }
            else
            {
                target[key] = value.DeepClone();
            }
        }
        return target;
    }

    /// <summary>Every desired leaf missing from or different in reported; null when there is none.</summary>
    static JsonObject? Delta(JsonObject? desired, JsonObject? reported)
    {
        if (desired is null)
        {
            return null;
        }
        var delta = new JsonObject();
        foreach (var (key, value) in desired)
        {
            var other = reported?[key];
            if (value is JsonObject d && other is JsonObject r)
            {
                if (Delta(d, r) is { } nested)
                {
                    delta[key] = nested;
                }
            }
            else if (!JsonNode.DeepEquals(value, other))
            {
                delta[key] = value?.DeepClone();
            }
        }
        return delta.Count == 0 ? null : delta;
    }

    static JsonObject? Clone(JsonObject? node) => node is null || node.Count == 0 ? null : node.DeepClone().AsObject();

    static void AddIfAny(JsonObject state, string name, JsonObject? section)
    {
        if (section is not null)
        {
            state[name] = section;
        }
    }

    static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    sealed class Document
    {
        public JsonObject? Desired { get; set; }

        public JsonObject? Reported { get; set; }

        public long Version { get; set; }

        public bool Exists { get; set; }
    }
}
