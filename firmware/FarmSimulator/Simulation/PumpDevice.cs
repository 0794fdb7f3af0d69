using System.Text.Json.Nodes;
using FarmSimulator.Provisioning;
using IoTServerless.Device;
using IoTServerless.Device.Shadows;

namespace FarmSimulator.Simulation;

/// <summary>
/// An irrigation pump: subscribes (QoS 1) to <c>{farm}/pump/{thing}/cmd</c> and publishes its state
/// (QoS 1) to <c>{farm}/pump/{thing}/state</c> after every accepted command, when a run ends, after
/// every (re)connect and every <see cref="StatePublishInterval"/>. Malformed commands are counted and ignored.
/// <para>
/// It also keeps its on/off state in its classic shadow (documents: <see cref="PumpShadow"/>).
/// Reported: <c>{"pump":"ON","onUntil":1764340200}</c> (epoch seconds) or
/// <c>{"pump":"OFF","onUntil":null}</c>. Desired: <c>{"pump":"ON"|"OFF","runSeconds":300}</c>, a
/// one-shot request like a command. After every (re)connect the pump gets its shadow and applies a
/// request found in its delta (or desired); on <c>update/delta</c> it applies the request at once.
/// After connecting and after every state change (command, run end, shadow request) it sends an update
/// that reports its state and withdraws <c>desired.pump</c>/<c>desired.runSeconds</c>, so the delta
/// disappears. Shadow failures (offline, timeout, rejection) never stop the pump: they are logged
/// once per failing streak and retried every <see cref="ShadowRetryDelay"/>; when the broker refuses
/// the shadow subscriptions (a policy without the shadow topics), the pump leaves the shadow alone
/// for that connection, since an unauthorised publish would close it.
/// </para>
/// </summary>
public sealed class PumpDevice : IDisposable
{
    public static readonly TimeSpan StatePublishInterval = TimeSpan.FromSeconds(30);

    /// <summary>Wait before a failed shadow get or update is tried again.</summary>
    public static readonly TimeSpan ShadowRetryDelay = TimeSpan.FromSeconds(15);

    static readonly TimeSpan LoopPoll = TimeSpan.FromSeconds(1);

    readonly TimeProvider _time;
    readonly Action<string> _log;
    readonly SemaphoreSlim _publishRequested = new(0, 1);
    readonly SemaphoreSlim _shadowRequested = new(0, 1);
    int _shadowSyncPending;
    int _shadowUpdatePending;
    long _lastDeltaVersion = long.MinValue;
    long _shadowRefusedOnConnection = -1;
    long _commandsReceived;
    long _commandsIgnored;
    long _statesPublished;
    long _shadowRequestsApplied;
    long _shadowRequestsIgnored;
    long _shadowUpdates;
    long _shadowFailures;

    /// <param name="shadowRequestTimeout">How long a shadow request waits for its answer (default <see cref="ShadowClient.DefaultRequestTimeout"/>).</param>
    public PumpDevice(string thingName, string farm, DeviceClient client, TimeProvider time, Action<string> log, TimeSpan? shadowRequestTimeout = null)
    {
        ThingName = thingName;
        Client = client;
        State = new Pump(thingName);
        CommandTopic = FarmNaming.PumpCommandTopic(farm, thingName);
        StateTopic = FarmNaming.PumpStateTopic(farm, thingName);
        Shadow = new ShadowClient(client, thingName, requestTimeout: shadowRequestTimeout);
        _time = time;
        _log = log;
        Shadow.DeltaReceived += OnShadowDelta;
        Shadow.HandlerFailed += OnShadowHandlerFailed;
        Client.SubscriptionRejected += OnSubscriptionRejected;
        Client.Connected += OnConnected;
    }

    public string ThingName { get; }

    public DeviceClient Client { get; }

    public Pump State { get; }

    /// <summary>The pump's classic shadow.</summary>
    public ShadowClient Shadow { get; }

    public string CommandTopic { get; }

    public string StateTopic { get; }

    public long CommandsReceived => Interlocked.Read(ref _commandsReceived);

    public long CommandsIgnored => Interlocked.Read(ref _commandsIgnored);

    public long StatesPublished => Interlocked.Read(ref _statesPublished);

    /// <summary>Desired requests applied (from a delta or from the shadow read after connecting).</summary>
    public long ShadowRequestsApplied => Interlocked.Read(ref _shadowRequestsApplied);

    /// <summary>Desired requests that were not valid (withdrawn without acting on them).</summary>
    public long ShadowRequestsIgnored => Interlocked.Read(ref _shadowRequestsIgnored);

    /// <summary>Shadow updates (reports) the service accepted.</summary>
    public long ShadowUpdates => Interlocked.Read(ref _shadowUpdates);

    /// <summary>Shadow gets and updates that failed (offline, timeout, rejected).</summary>
    public long ShadowFailures => Interlocked.Read(ref _shadowFailures);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await Client.SubscribeAsync(CommandTopic, QualityOfService.AtLeastOnce, OnCommandAsync, cancellationToken);
        await Shadow.StartAsync(cancellationToken);
        await Client.ConnectWithRetryAsync(cancellationToken);
        await Task.WhenAll(RunStateLoopAsync(cancellationToken), RunShadowLoopAsync(cancellationToken));
    }

    /// <summary>Handles one command message (exposed for tests).</summary>
    public Task OnCommandAsync(string topic, ReadOnlyMemory<byte> payload)
    {
        Interlocked.Increment(ref _commandsReceived);
        if (!PumpCommand.TryParse(payload, out var command))
        {
            Interlocked.Increment(ref _commandsIgnored);
            _log($"{ThingName} ignored a malformed command ({payload.Length} bytes)");
            return Task.CompletedTask;
        }
        var now = _time.GetUtcNow();
        State.Apply(command, now);
        _log(command.Kind == PumpCommandKind.On
            ? $"{ThingName} ON for {command.Duration.TotalSeconds:0} s"
            : $"{ThingName} OFF (command)");
        RequestPublish();
        RequestShadowUpdate();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        Shadow.DeltaReceived -= OnShadowDelta;
        Shadow.HandlerFailed -= OnShadowHandlerFailed;
        Client.SubscriptionRejected -= OnSubscriptionRejected;
        Client.Connected -= OnConnected;
        _publishRequested.Dispose();
        _shadowRequested.Dispose();
    }

    async Task RunStateLoopAsync(CancellationToken cancellationToken)
    {
        var lastPublished = DateTimeOffset.MinValue;
        while (true)
        {
            var requested = await _publishRequested.WaitAsync(LoopPoll, cancellationToken);
            var now = _time.GetUtcNow();
            var expired = State.Expire(now);
            if (expired)
            {
                _log($"{ThingName} OFF (run ended)");
                RequestShadowUpdate();
            }
            if ((requested || expired || now - lastPublished >= StatePublishInterval) && await TryPublishStateAsync(now, cancellationToken))
            {
                lastPublished = now;
            }
        }
    }

    /// <summary>
    /// Does the shadow work one step at a time, off the receive path (a shadow request waits for a
    /// response that arrives there): a sync (get, apply a request) is followed by an update.
    /// </summary>
    async Task RunShadowLoopAsync(CancellationToken cancellationToken)
    {
        var failing = false;
        var retryAt = DateTimeOffset.MinValue;
        while (true)
        {
            await _shadowRequested.WaitAsync(LoopPoll, cancellationToken);
            var work = Volatile.Read(ref _shadowSyncPending) | Volatile.Read(ref _shadowUpdatePending);
            if (work == 0 || !Client.IsConnected || ShadowRefused() || _time.GetUtcNow() < retryAt)
            {
                continue;
            }
            ShadowFailure? failure = null;
            if (Interlocked.Exchange(ref _shadowSyncPending, 0) == 1)
            {
                failure = await TrySyncShadowAsync(cancellationToken);
                if (failure is null)
                {
                    Volatile.Write(ref _shadowUpdatePending, 1);
                }
                else if (failure.Retry)
                {
                    Volatile.Write(ref _shadowSyncPending, 1);
                }
            }
            if (failure is null && Interlocked.Exchange(ref _shadowUpdatePending, 0) == 1)
            {
                failure = await TryUpdateShadowAsync(cancellationToken);
                if (failure is { Retry: true })
                {
                    Volatile.Write(ref _shadowUpdatePending, 1);
                }
            }
            if (failure is not null)
            {
                Interlocked.Increment(ref _shadowFailures);
                retryAt = _time.GetUtcNow() + ShadowRetryDelay;
                if (!failing)
                {
                    _log($"{ThingName} shadow {failure.Description}{(failure.Retry ? $" (retrying every {ShadowRetryDelay.TotalSeconds:0} s)" : "")}");
                }
                failing = true;
            }
            else if (failing)
            {
                _log($"{ThingName} shadow reachable again");
                failing = false;
            }
        }
    }

    /// <summary>Gets the shadow and applies a pending request; null on success, otherwise what went wrong.</summary>
    async Task<ShadowFailure?> TrySyncShadowAsync(CancellationToken cancellationToken)
    {
        ShadowDocument document;
        try
        {
            document = await Shadow.GetAsync(cancellationToken);
        }
        catch (ShadowRejectedException ex) when (ex.Code == 404)
        {
            return null; // no shadow yet: nothing requested; the update creates it
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return ShadowFailure.From("get", ex);
        }
        // The document is authoritative: deltas up to its version are covered by it.
        Interlocked.Exchange(ref _lastDeltaVersion, document.Version);
        // The delta shows a request that differs from the reported state; desired also holds one that
        // matched a reported state gone stale (every update of ours withdraws fulfilled requests).
        if (PumpShadow.MentionsPump(document.Delta) || PumpShadow.MentionsPump(document.Desired))
        {
            ApplyShadowRequest(document.Desired, "shadow");
        }
        return null;
    }

    async Task<ShadowFailure?> TryUpdateShadowAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Shadow.UpdateAsync(PumpShadow.Update(State.OnUntil(_time.GetUtcNow())), expectedVersion: null, cancellationToken);
            Interlocked.Increment(ref _shadowUpdates);
            return null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return ShadowFailure.From("update", ex);
        }
    }

    void OnShadowDelta(object? sender, ShadowDeltaEventArgs e)
    {
        // Deltas may come twice or out of order: only newer versions count.
        if (!Raise(ref _lastDeltaVersion, e.Version) || !PumpShadow.MentionsPump(e.State))
        {
            return;
        }
        if (!e.State.ContainsKey(PumpShadow.PumpKey))
        {
            // Only runSeconds differs: desired.pump equals the last report; read the whole request.
            RequestShadowSync();
            return;
        }
        ApplyShadowRequest(e.State, "delta");
    }

    void OnShadowHandlerFailed(object? sender, DeviceHandlerFailedEventArgs e)
        => _log($"{ThingName} failed to handle a shadow delta: {e.Exception.Message}");

    void ApplyShadowRequest(JsonObject? section, string source)
    {
        switch (PumpShadow.ReadRequest(section, out var command))
        {
            case PumpShadowRequestKind.Command:
                Interlocked.Increment(ref _shadowRequestsApplied);
                State.Apply(command, _time.GetUtcNow());
                _log(command.Kind == PumpCommandKind.On
                    ? $"{ThingName} ON for {command.Duration.TotalSeconds:0} s ({source})"
                    : $"{ThingName} OFF ({source})");
                RequestPublish();
                break;
            case PumpShadowRequestKind.Invalid:
                Interlocked.Increment(ref _shadowRequestsIgnored);
                _log($"{ThingName} ignored an invalid shadow request ({source}): {section?.ToJsonString()}");
                break;
            default:
                return;
        }
        RequestShadowUpdate(); // reports and withdraws the request
    }

    void OnConnected(object? sender, DeviceConnectedEventArgs e)
    {
        RequestPublish();
        if (ShadowRefused())
        {
            _log($"{ThingName} may not use its shadow (subscriptions refused; is the {FarmPolicies.PumpShadow} policy attached?)");
            return;
        }
        RequestShadowSync();
    }

    void OnSubscriptionRejected(object? sender, DeviceSubscriptionRejectedEventArgs e)
    {
        if (Shadow.ResponseTopics.Contains(e.TopicFilter))
        {
            // Raised while connecting, before Connected: remembered for this connection only.
            Interlocked.Exchange(ref _shadowRefusedOnConnection, Client.Connections);
        }
    }

    bool ShadowRefused() => Interlocked.Read(ref _shadowRefusedOnConnection) == Client.Connections;

    void RequestPublish() => Signal(_publishRequested);

    void RequestShadowSync()
    {
        Volatile.Write(ref _shadowSyncPending, 1);
        Signal(_shadowRequested);
    }

    void RequestShadowUpdate()
    {
        Volatile.Write(ref _shadowUpdatePending, 1);
        Signal(_shadowRequested);
    }

    static void Signal(SemaphoreSlim semaphore)
    {
        try
        {
            semaphore.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already requested.
        }
        catch (ObjectDisposedException)
        {
            // Stopped.
        }
    }

    /// <summary>Raises <paramref name="target"/> to <paramref name="value"/>; false when it was already that high.</summary>
    static bool Raise(ref long target, long value)
    {
        var current = Interlocked.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return true;
            }
            current = seen;
        }
        return false;
    }


    async Task<bool> TryPublishStateAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!Client.IsConnected)
        {
            return false;
        }
        try
        {
            await Client.PublishAsync(StateTopic, FarmPayloads.PumpState(State.OnUntil(now), now), QualityOfService.AtLeastOnce, retain: false, cancellationToken);
            Interlocked.Increment(ref _statesPublished);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Offline or refused: the next (re)connect or period publishes again.
            return false;
        }
    }

    /// <summary>A failed shadow request; rejections other than 429 (throttled) and 5xx would be answered the same way again.</summary>
    sealed record ShadowFailure(string Description, bool Retry)
    {
        public static ShadowFailure From(string operation, Exception ex) => ex switch
        {
            ShadowRejectedException r => new($"{operation} rejected: {r.Code} {r.ErrorMessage}", r.Code is 429 or >= 500),
            TimeoutException => new($"{operation} timed out", true),
            _ => new($"{operation} failed: {ex.Message}", true),
        };
    }
}
