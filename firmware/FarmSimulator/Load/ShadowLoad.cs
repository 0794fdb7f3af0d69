using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using IoTServerless.Device;

namespace FarmSimulator.Load;

/// <summary>What one shadow load run measured, each figure next to the broker-only baseline of the same run.</summary>
public sealed record ShadowLoadResult(
    int Things,
    double Rate,
    LatencySummary EchoLatency,
    LatencySummary ShadowLatency,
    double EchoPerSecond,
    double ShadowUpdatesPerSecond,
    long Rejected,
    long TimedOut);

/// <summary>Latency percentiles in milliseconds over <see cref="Count"/> answered requests.</summary>
public sealed record LatencySummary(int Count, double P50, double P90, double P99, double Max)
{
    public static LatencySummary From(List<double> samples)
    {
        if (samples.Count == 0)
        {
            return new LatencySummary(0, double.NaN, double.NaN, double.NaN, double.NaN);
        }
        samples.Sort();
        double At(double q) => samples[Math.Min(samples.Count - 1, (int)Math.Ceiling(q * samples.Count) - 1)];
        return new LatencySummary(samples.Count, At(0.50), At(0.90), At(0.99), samples[^1]);
    }
}

/// <summary>
/// The shadow load scenario: one TLS connection per thing, each subscribed to its own
/// <c>update/accepted</c>, <c>update/rejected</c> and an echo topic. Four phases, in this order:
/// <list type="number">
/// <item>echo at a steady rate: QoS 1 publish to the thing's own echo topic until it comes back (the broker-only round trip, the baseline);</item>
/// <item>shadow update at the same rate: publish <c>update</c> (reported), wait for <c>update/accepted</c> with its client token;</item>
/// <item>echo closed loop: every thing keeps one echo outstanding (broker-only capacity);</item>
/// <item>shadow closed loop: every thing keeps one update outstanding (sustained updates per second).</item>
/// </list>
/// </summary>
public sealed class ShadowLoad(ShadowLoadOptions options, Action<string> log) : IAsyncDisposable
{
    static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(30);

    readonly List<Device> _devices = [];
    long _rejected;
    long _timedOut;

    sealed class Device(string thing, DeviceClient client)
    {
        public string Thing { get; } = thing;
        public DeviceClient Client { get; } = client;
        public string EchoTopic { get; } = $"bench/echo/{thing}";
        public string UpdateTopic { get; } = $"$aws/things/{thing}/shadow/update";
        public ConcurrentDictionary<string, TaskCompletionSource<bool>> Pending { get; } = new(StringComparer.Ordinal);
    }

    public async Task<ShadowLoadResult> RunAsync(CancellationToken cancellationToken)
    {
        await ConnectAllAsync(cancellationToken);
        log($"{_devices.Count} things connected; steady phases at {options.Rate:0.#}/s for {options.Duration.TotalSeconds:0} s each");
        await SteadyAsync(SendEchoAsync, options.Warmup, cancellationToken);
        var echo = await SteadyAsync(SendEchoAsync, options.Duration, cancellationToken);
        log($"echo steady: p50 {echo.P50:0.0} ms, p99 {echo.P99:0.0} ms ({echo.Count})");
        await SteadyAsync(SendUpdateAsync, options.Warmup, cancellationToken);
        var shadow = await SteadyAsync(SendUpdateAsync, options.Duration, cancellationToken);
        log($"shadow steady: p50 {shadow.P50:0.0} ms, p99 {shadow.P99:0.0} ms ({shadow.Count})");
        var echoRate = await ClosedLoopAsync(SendEchoAsync, cancellationToken);
        log($"echo closed loop: {echoRate:0} msg/s");
        var updateRate = await ClosedLoopAsync(SendUpdateAsync, cancellationToken);
        log($"shadow closed loop: {updateRate:0} updates/s");
        return new ShadowLoadResult(_devices.Count, options.Rate, echo, shadow, echoRate, updateRate, Interlocked.Read(ref _rejected), Interlocked.Read(ref _timedOut));
    }

    async Task ConnectAllAsync(CancellationToken cancellationToken)
    {
        foreach (var thing in options.ThingNames)
        {
            var client = LoadDevices.Create(options.Host, options.Port, options.CertificateDirectory, thing);
            var device = new Device(thing, client);
            _devices.Add(device);
            await client.SubscribeAsync(device.EchoTopic, QualityOfService.AtLeastOnce, (_, payload) => Complete(device, payload, ok: true), cancellationToken);
            await client.SubscribeAsync(device.UpdateTopic + "/accepted", QualityOfService.AtLeastOnce, (_, payload) => Complete(device, payload, ok: true), cancellationToken);
            await client.SubscribeAsync(device.UpdateTopic + "/rejected", QualityOfService.AtLeastOnce, (_, payload) => Complete(device, payload, ok: false), cancellationToken);
        }
        await Parallel.ForEachAsync(_devices, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken },
            async (device, token) => await device.Client.ConnectAsync(token));
    }

    Task Complete(Device device, ReadOnlyMemory<byte> payload, bool ok)
    {
        var token = ReadToken(payload.Span);
        if (token is not null && device.Pending.TryRemove(token, out var pending))
        {
            if (!ok && Interlocked.Increment(ref _rejected) <= 3)
            {
                log($"rejected: {Encoding.UTF8.GetString(payload.Span)}");
            }
            pending.TrySetResult(ok);
        }
        return Task.CompletedTask;
    }

    static string? ReadToken(ReadOnlySpan<byte> payload)
    {
        try
        {
            var reader = new Utf8JsonReader(payload);
            while (reader.Read())
            {
                if (reader.CurrentDepth == 1 && reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("clientToken"u8))
                {
                    reader.Read();
                    return reader.GetString();
                }
            }
        }
        catch (JsonException)
        {
        }
        return null;
    }

    static long _sequence;

    /// <summary>Publishes one echo and returns the round trip in ms (null when it timed out).</summary>
    Task<double?> SendEchoAsync(Device device, CancellationToken cancellationToken)
    {
        var token = Interlocked.Increment(ref _sequence).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return RoundTripAsync(device, token, device.EchoTopic, Encoding.UTF8.GetBytes($"{{\"clientToken\":\"{token}\"}}"), cancellationToken);
    }

    /// <summary>Publishes one reported-state update and returns the round trip to update/accepted in ms.</summary>
    Task<double?> SendUpdateAsync(Device device, CancellationToken cancellationToken)
    {
        var sequence = Interlocked.Increment(ref _sequence);
        var token = sequence.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var payload = Encoding.UTF8.GetBytes($"{{\"state\":{{\"reported\":{{\"moisture\":{sequence % 100},\"seq\":{token}}}}},\"clientToken\":\"{token}\"}}");
        return RoundTripAsync(device, token, device.UpdateTopic, payload, cancellationToken);
    }

    async Task<double?> RoundTripAsync(Device device, string token, string topic, byte[] payload, CancellationToken cancellationToken)
    {
        var answered = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        device.Pending[token] = answered;
        var start = Stopwatch.GetTimestamp();
        try
        {
            await device.Client.PublishAsync(topic, payload, QualityOfService.AtLeastOnce, retain: false, cancellationToken);
            var ok = await answered.Task.WaitAsync(AnswerTimeout, cancellationToken);
            return ok ? Stopwatch.GetElapsedTime(start).TotalMilliseconds : null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // No answer in time, or no PUBACK in time (the broker holds a QoS 1 PUBACK while its event sink is behind).
            device.Pending.TryRemove(token, out _);
            if (cancellationToken.IsCancellationRequested)
            {
                return null; // the phase ended: MQTTnet reports a cancelled PUBACK wait as a timeout
            }
            if (Interlocked.Increment(ref _timedOut) <= 3)
            {
                log($"no answer: {ex.GetType().Name}: {ex.Message}");
            }
            return null;
        }
    }

    /// <summary>Requests at <see cref="ShadowLoadOptions.Rate"/> per second, round robin over the things, for <paramref name="duration"/>.</summary>
    async Task<LatencySummary> SteadyAsync(Func<Device, CancellationToken, Task<double?>> send, TimeSpan duration, CancellationToken cancellationToken)
    {
        var samples = new ConcurrentBag<double>();
        var inFlight = new List<Task>();
        var interval = TimeSpan.FromSeconds(1 / options.Rate);
        var count = (int)(duration.TotalSeconds * options.Rate);
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            var due = interval * i - Stopwatch.GetElapsedTime(start);
            if (due > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(due, cancellationToken);
            }
            var device = _devices[i % _devices.Count];
            inFlight.Add(Record(send(device, cancellationToken), samples));
        }
        await Task.WhenAll(inFlight);
        return LatencySummary.From([.. samples]);
    }

    static async Task Record(Task<double?> roundTrip, ConcurrentBag<double> samples)
    {
        if (await roundTrip is { } ms)
        {
            samples.Add(ms);
        }
    }

    /// <summary>Every thing keeps one request outstanding; answered requests per second over the measured window.</summary>
    async Task<double> ClosedLoopAsync(Func<Device, CancellationToken, Task<double?>> send, CancellationToken cancellationToken)
    {
        long answered = 0;
        var measuring = false;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var loops = _devices.Select(async device =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    if (await send(device, stop.Token) is not null && Volatile.Read(ref measuring))
                    {
                        Interlocked.Increment(ref answered);
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }).ToList();
        await Task.Delay(options.Warmup, cancellationToken);
        Volatile.Write(ref measuring, true);
        var start = Stopwatch.GetTimestamp();
        await Task.Delay(options.Duration, cancellationToken);
        var count = Interlocked.Read(ref answered);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        await stop.CancelAsync();
        await Task.WhenAll(loops);
        return count / seconds;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var device in _devices)
        {
            await device.Client.DisposeAsync();
        }
    }
}

/// <summary>Where to connect and how hard to push.</summary>
public sealed record ShadowLoadOptions(string Host, int Port, string CertificateDirectory, IReadOnlyList<string> ThingNames, double Rate, TimeSpan Duration, TimeSpan Warmup);
