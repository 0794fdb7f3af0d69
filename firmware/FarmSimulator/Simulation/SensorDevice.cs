using IoTServerless.Device;

namespace FarmSimulator.Simulation;

/// <summary>
/// A soil sensor: every interval it advances its soil model (watered while its pump is on) and
/// publishes the reading with QoS 1 to <c>{farm}/sensor/{thing}/data</c>. Readings taken while
/// offline are counted and dropped.
/// </summary>
public sealed class SensorDevice(string thingName, string farm, DeviceClient client, SoilModel model, Pump? pump, TimeProvider time)
{
    SoilReading? _lastReading;
    long _readingsSent;
    long _readingsFailed;

    public string ThingName { get; } = thingName;

    public DeviceClient Client { get; } = client;

    public Pump? Pump { get; } = pump;

    public string Topic { get; } = FarmNaming.SensorDataTopic(farm, thingName);

    public SoilReading? LastReading => Volatile.Read(ref _lastReading);

    public long ReadingsSent => Interlocked.Read(ref _readingsSent);

    /// <summary>Readings not acknowledged: publish failures and readings taken while offline.</summary>
    public long ReadingsFailed => Interlocked.Read(ref _readingsFailed);

    /// <summary>Connects (retrying), waits <paramref name="startDelay"/> to spread the fleet, then reports every <paramref name="interval"/>.</summary>
    public async Task RunAsync(TimeSpan interval, TimeSpan startDelay, CancellationToken cancellationToken)
    {
        await Client.ConnectWithRetryAsync(cancellationToken);
        await Task.Delay(startDelay, time, cancellationToken);
        using var timer = new PeriodicTimer(interval, time);
        do
        {
            await ReportAsync(cancellationToken);
        }
        while (await timer.WaitForNextTickAsync(cancellationToken));
    }

    async Task ReportAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var reading = model.Advance(now, Pump?.IsOn(now) ?? false);
        Volatile.Write(ref _lastReading, reading);
        if (!Client.IsConnected)
        {
            Interlocked.Increment(ref _readingsFailed);
            return;
        }
        try
        {
            await Client.PublishAsync(Topic, FarmPayloads.SensorData(reading), QualityOfService.AtLeastOnce, retain: false, cancellationToken);
            Interlocked.Increment(ref _readingsSent);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The connection dropped mid-publish or the broker refused it; the client reconnects on its own.
            Interlocked.Increment(ref _readingsFailed);
        }
    }
}
