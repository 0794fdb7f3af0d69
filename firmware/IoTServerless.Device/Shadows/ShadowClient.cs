using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;

namespace IoTServerless.Device.Shadows;

/// <summary>
/// The device side of a thing's shadow over MQTT — the classic shadow
/// (<c>$aws/things/{thing}/shadow/{op}</c>) or a named one
/// (<c>$aws/things/{thing}/shadow/name/{shadow}/{op}</c>) — in the manner of the AWS IoT device SDKs'
/// shadow clients.
/// <para>
/// <see cref="StartAsync"/> subscribes (QoS 1) to exactly the seven response topics it needs, each on
/// its own (no wildcard, so a least-privilege policy suffices): <c>get|update|delete/accepted</c>,
/// <c>get|update|delete/rejected</c> and <c>update/delta</c>. They go through
/// <see cref="DeviceClient.SubscribeAsync"/>, so they are sent again after every reconnect.
/// </para>
/// <para>
/// Each request carries a fresh <c>clientToken</c> and is published at QoS 1; it completes with the
/// accepted or rejected response that echoes its token. Responses carrying other tokens (other
/// requesters share the topics) are ignored and counted. No answer within the request timeout is a
/// <see cref="TimeoutException"/>; a rejection is a <see cref="ShadowRejectedException"/>. Requests
/// may run concurrently.
/// </para>
/// <para>
/// <see cref="DeltaReceived"/> is raised for every well-formed <c>update/delta</c>, on the device
/// client's receive path: handlers must return quickly and must not wait for a shadow response there
/// (start the work instead). Malformed deltas are counted and ignored; a handler that throws is counted
/// and reported through <see cref="HandlerFailed"/>, never thrown into the client. One ShadowClient per
/// shadow and device client: a second one on the same topics replaces the first one's subscriptions.
/// </para>
/// </summary>
public sealed class ShadowClient
{
    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The longest clientToken the platform accepts (bytes).</summary>
    public const int MaxClientTokenBytes = 64;

    const int MaxThingNameLength = 128;
    const int MaxShadowNameLength = 64;

    readonly DeviceClient _client;
    readonly ConcurrentDictionary<string, PendingRequest> _pending = new(StringComparer.Ordinal);
    volatile bool _started;
    long _deltasReceived;
    long _malformedDeltas;
    long _ignoredResponses;
    long _handlerFailures;

    public ShadowClient(DeviceClient client, string thingName, string? shadowName = null, TimeSpan? requestTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (!IsValidName(thingName, MaxThingNameLength, allowDollar: false))
        {
            throw new ArgumentException($"'{thingName}' is not a thing name ([a-zA-Z0-9:_-]{{1,{MaxThingNameLength}}}).", nameof(thingName));
        }
        if (shadowName is not null && !IsValidName(shadowName, MaxShadowNameLength, allowDollar: true))
        {
            throw new ArgumentException($"'{shadowName}' is not a shadow name ([$a-zA-Z0-9:_-]{{1,{MaxShadowNameLength}}}).", nameof(shadowName));
        }
        var timeout = requestTimeout ?? DefaultRequestTimeout;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero, nameof(requestTimeout));
        _client = client;
        ThingName = thingName;
        ShadowName = shadowName;
        RequestTimeout = timeout;
        TopicPrefix = shadowName is null ? $"$aws/things/{thingName}/shadow" : $"$aws/things/{thingName}/shadow/name/{shadowName}";
        ResponseTopics =
        [
            Topic("get/accepted"), Topic("get/rejected"),
            Topic("update/accepted"), Topic("update/rejected"),
            Topic("delete/accepted"), Topic("delete/rejected"),
            Topic("update/delta"),
        ];
    }

    /// <summary>
    /// For every well-formed <c>update/delta</c> message, on the receive path (return quickly; do not
    /// wait for shadow responses in the handler).
    /// </summary>
    public event EventHandler<ShadowDeltaEventArgs>? DeltaReceived;

    /// <summary>When a <see cref="DeltaReceived"/> handler throws; the client carries on.</summary>
    public event EventHandler<DeviceHandlerFailedEventArgs>? HandlerFailed;

    public string ThingName { get; }

    /// <summary>Null for the classic shadow.</summary>
    public string? ShadowName { get; }

    public TimeSpan RequestTimeout { get; }

    /// <summary><c>$aws/things/{thing}/shadow</c> or <c>$aws/things/{thing}/shadow/name/{shadow}</c>.</summary>
    public string TopicPrefix { get; }

    /// <summary>The topic filters <see cref="StartAsync"/> subscribes to.</summary>
    public IReadOnlyList<string> ResponseTopics { get; }

    /// <summary>Well-formed deltas received (handlers raised).</summary>
    public long DeltasReceived => Interlocked.Read(ref _deltasReceived);

    /// <summary>Delta messages that were not a JSON object with a <c>state</c> object, a <c>version</c> and a <c>timestamp</c>.</summary>
    public long MalformedDeltas => Interlocked.Read(ref _malformedDeltas);

    /// <summary>Responses not matching a pending request of this client (another requester's token, no token, not JSON).</summary>
    public long IgnoredResponses => Interlocked.Read(ref _ignoredResponses);

    public long HandlerFailures => Interlocked.Read(ref _handlerFailures);

    /// <summary>Requests awaiting their response.</summary>
    public int PendingRequests => _pending.Count;

    /// <summary>The topic <c>{prefix}/{suffix}</c>, e.g. <c>Topic("update/documents")</c>.</summary>
    public string Topic(string suffix) => $"{TopicPrefix}/{suffix}";

    /// <summary>
    /// Subscribes (QoS 1) to the response topics, one filter each; when not connected they are sent
    /// at the next connect. Throws <see cref="DeviceClientException"/> when the broker refuses one.
    /// Calling it again is harmless.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var operation in ShadowOperation.All)
        {
            await _client.SubscribeAsync(Topic(operation.Name + "/accepted"), QualityOfService.AtLeastOnce,
                (_, payload) => OnResponseAsync(operation, accepted: true, payload), cancellationToken);
            await _client.SubscribeAsync(Topic(operation.Name + "/rejected"), QualityOfService.AtLeastOnce,
                (_, payload) => OnResponseAsync(operation, accepted: false, payload), cancellationToken);
        }
        await _client.SubscribeAsync(Topic("update/delta"), QualityOfService.AtLeastOnce, OnDeltaAsync, cancellationToken);
        _started = true;
    }

    /// <summary>The shadow document; a missing shadow is a <see cref="ShadowRejectedException"/> with code 404.</summary>
    public async Task<ShadowDocument> GetAsync(CancellationToken cancellationToken)
    {
        var response = await RequestAsync(ShadowOperation.Get, [], cancellationToken);
        return ShadowDocument.FromResponse(response);
    }

    /// <summary>
    /// Sends <c>{"state":<paramref name="state"/>,"version":<paramref name="expectedVersion"/>}</c>;
    /// <paramref name="state"/> is <c>{"desired":{…},"reported":{…}}</c> (a copy is sent; <c>null</c>
    /// leaves remove keys). With an expected version that is not current the service answers 409.
    /// </summary>
    public async Task<ShadowUpdateResult> UpdateAsync(JsonObject state, long? expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(state);
        var body = new JsonObject { ["state"] = state.DeepClone() };
        if (expectedVersion is { } version)
        {
            body["version"] = version;
        }
        var response = await RequestAsync(ShadowOperation.Update, body, cancellationToken);
        return ShadowUpdateResult.FromResponse(response);
    }

    /// <summary>Reports the device's state: an update of <c>{"reported":<paramref name="reported"/>}</c>.</summary>
    public Task<ShadowUpdateResult> ReportAsync(JsonObject reported, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reported);
        return UpdateAsync(new JsonObject { ["reported"] = reported.DeepClone() }, expectedVersion: null, cancellationToken);
    }

    /// <summary>Deletes the shadow; a missing shadow is a <see cref="ShadowRejectedException"/> with code 404.</summary>
    public async Task DeleteAsync(CancellationToken cancellationToken)
        => await RequestAsync(ShadowOperation.Delete, [], cancellationToken);

    async Task<JsonObject> RequestAsync(ShadowOperation operation, JsonObject body, CancellationToken cancellationToken)
    {
        if (!_started)
        {
            throw new InvalidOperationException("Call StartAsync before sending shadow requests: the responses would not be received.");
        }
        var clientToken = Guid.NewGuid().ToString("N");
        body["clientToken"] = clientToken;
        var payload = Encoding.UTF8.GetBytes(body.ToJsonString());
        var pending = new PendingRequest(operation);
        _pending[clientToken] = pending;
        var topic = Topic(operation.Name);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RequestTimeout);
        // The deadline only stops the waiting: MQTTnet closes the connection when a write is cancelled
        // midway, and a slow PUBACK is no reason to drop the device's connection.
        var publish = Task.CompletedTask;
        try
        {
            publish = _client.PublishAsync(topic, payload, QualityOfService.AtLeastOnce, retain: false, cancellationToken);
            await publish.WaitAsync(timeout.Token);
            return await pending.Completion.Task.WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException ex)
        {
            Observe(publish);
            // The caller's cancellation stays a cancellation (with the caller's token); our own deadline is a timeout.
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"No answer to the shadow {operation.Name} on '{topic}' (clientToken {clientToken}) within {RequestTimeout.TotalSeconds:0.###} s.", ex);
        }
        finally
        {
            _pending.TryRemove(clientToken, out _);
        }
    }

    Task OnResponseAsync(ShadowOperation operation, bool accepted, ReadOnlyMemory<byte> payload)
    {
        if (ShadowJson.TryParseObject(payload) is not { } response
            || !ShadowJson.TryGetString(response["clientToken"], out var clientToken)
            || !_pending.TryGetValue(clientToken, out var pending)
            || pending.Operation != operation)
        {
            Interlocked.Increment(ref _ignoredResponses);
            return Task.CompletedTask;
        }
        if (accepted)
        {
            pending.Completion.TrySetResult(response);
        }
        else
        {
            var code = ShadowJson.TryGetInt64(response["code"], out var c) && c is >= int.MinValue and <= int.MaxValue ? (int)c : 0;
            var message = ShadowJson.TryGetString(response["message"], out var m) ? m : "";
            pending.Completion.TrySetException(new ShadowRejectedException(code, message));
        }
        return Task.CompletedTask;
    }

    Task OnDeltaAsync(string topic, ReadOnlyMemory<byte> payload)
    {
        if (ShadowJson.TryParseObject(payload) is not { } delta
            || delta["state"] is not JsonObject
            || !ShadowJson.TryGetInt64(delta["version"], out var version)
            || !ShadowJson.TryGetTimestamp(delta, out var timestamp))
        {
            Interlocked.Increment(ref _malformedDeltas);
            return Task.CompletedTask;
        }
        Interlocked.Increment(ref _deltasReceived);
        var args = new ShadowDeltaEventArgs(ShadowJson.Detach(delta, "state")!, version, timestamp, ShadowJson.Detach(delta, "metadata"));
        if (DeltaReceived is not { } handlers)
        {
            return Task.CompletedTask;
        }
        // Each handler on its own: one that throws does not keep the others from the delta.
        foreach (var handler in handlers.GetInvocationList().Cast<EventHandler<ShadowDeltaEventArgs>>())
        {
            try
            {
                handler(this, args);
            }
            catch (Exception ex)
            {
                Interlocked.Increment(ref _handlerFailures);
                RaiseHandlerFailed(new DeviceHandlerFailedEventArgs(topic, ex));
            }
        }
        return Task.CompletedTask;
    }

    void RaiseHandlerFailed(DeviceHandlerFailedEventArgs args)
    {
        try
        {
            HandlerFailed?.Invoke(this, args);
        }
        catch (Exception)
        {
            // A faulty event subscriber must not break the client.
        }
    }

    /// <summary>A publish no longer awaited still has its failure observed (no unobserved task exception).</summary>
    static void Observe(Task task)
    {
        if (!task.IsCompleted)
        {
            _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    static bool IsValidName(string? name, int maxLength, bool allowDollar)
    {
        if (string.IsNullOrEmpty(name) || name.Length > maxLength)
        {
            return false;
        }
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is ':' or '_' or '-' || (allowDollar && c == '$')))
            {
                return false;
            }
        }
        return true;
    }

    sealed class ShadowOperation
    {
        public static readonly ShadowOperation Get = new("get");
        public static readonly ShadowOperation Update = new("update");
        public static readonly ShadowOperation Delete = new("delete");
        public static readonly ShadowOperation[] All = [Get, Update, Delete];

        ShadowOperation(string name) => Name = name;

        public string Name { get; }
    }

    sealed class PendingRequest(ShadowOperation operation)
    {
        public ShadowOperation Operation { get; } = operation;

        // Completed on the receive path: continuations must not run there (they may send the next request).
        public TaskCompletionSource<JsonObject> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
