using IoTServerless.Device;

namespace FarmSimulator.Simulation;

/// <summary>
/// An irrigation pump: subscribes (QoS 1) to <c>{farm}/pump/{thing}/cmd</c> and publishes its state
/// (QoS 1) to <c>{farm}/pump/{thing}/state</c> after every accepted command, when a run ends, after
/// every (re)connect and every <see cref="StatePublishInterval"/>. Malformed commands are counted and ignored.
/// </summary>
public sealed class PumpDevice : IDisposable
{
    public static readonly TimeSpan StatePublishInterval = TimeSpan.FromSeconds(30);

    readonly TimeProvider _time;
    readonly Action<string> _log;
    readonly SemaphoreSlim _publishRequested = new(0, 1);
    long _commandsReceived;
    long _commandsIgnored;
    long _statesPublished;

    public PumpDevice(string thingName, string farm, DeviceClient client, TimeProvider time, Action<string> log)
    {
        ThingName = thingName;
        Client = client;
        State = new Pump(thingName);
        CommandTopic = FarmNaming.PumpCommandTopic(farm, thingName);
        StateTopic = FarmNaming.PumpStateTopic(farm, thingName);
        _time = time;
        _log = log;
        Client.Connected += (_, _) => RequestPublish();
    }

    public string ThingName { get; }

    public DeviceClient Client { get; }

    public Pump State { get; }

    public string CommandTopic { get; }

    public string StateTopic { get; }

    public long CommandsReceived => Interlocked.Read(ref _commandsReceived);

    public long CommandsIgnored => Interlocked.Read(ref _commandsIgnored);

    public long StatesPublished => Interlocked.Read(ref _statesPublished);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await Client.SubscribeAsync(CommandTopic, QualityOfService.AtLeastOnce, OnCommandAsync, cancellationToken);
        await Client.ConnectWithRetryAsync(cancellationToken);
        var lastPublished = DateTimeOffset.MinValue;
        while (true)
        {
            var requested = await _publishRequested.WaitAsync(TimeSpan.FromSeconds(1), cancellationToken);
            var now = _time.GetUtcNow();
            var expired = State.Expire(now);
            if (expired)
            {
                _log($"{ThingName} OFF (run ended)");
            }
            if ((requested || expired || now - lastPublished >= StatePublishInterval) && await TryPublishStateAsync(now, cancellationToken))
            {
                lastPublished = now;
            }
        }
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
        return Task.CompletedTask;
    }

    public void Dispose() => _publishRequested.Dispose();

    void RequestPublish()
    {
        try
        {
            _publishRequested.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already requested.
        }
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
}
