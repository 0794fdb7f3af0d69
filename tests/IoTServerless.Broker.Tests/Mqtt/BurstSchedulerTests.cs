using IoTServerless.Broker.Mqtt;
using IoTServerless.Broker.Sinks;

namespace IoTServerless.Broker.Tests.Mqtt;

/// <summary>
/// Where a connection's pump runs when a delivery wakes it: on the waking thread (no thread hop for
/// the delivery), unless the connection is in a burst, where the thread pool lets the pump collect
/// what arrives meanwhile into one write.
/// </summary>
public sealed class BurstSchedulerTests
{
    const long Microsecond = 1;

    sealed class ManualTime : TimeProvider
    {
        public long Now { get; set; } = 1_000_000;

        public override long TimestampFrequency => 1_000_000; // one tick per microsecond

        public override long GetTimestamp() => Now;
    }

    readonly ManualTime _time = new();
    readonly BrokerTraffic _traffic = new();

    /// <summary>Wakes the pump after <paramref name="gapMicroseconds"/>; true when it ran on this thread before Schedule returned.</summary>
    bool Wake(MqttWriteCoalescing.BurstScheduler scheduler, long gapMicroseconds)
    {
        _time.Now += gapMicroseconds * Microsecond;
        var thread = Environment.CurrentManagedThreadId;
        using var ran = new ManualResetEventSlim();
        var ranHere = false;
        scheduler.Schedule(_ =>
        {
            ranHere = Environment.CurrentManagedThreadId == thread;
            ran.Set();
        }, null);
        var ranBeforeReturn = ran.IsSet;
        Assert.True(ran.Wait(TimeSpan.FromSeconds(10)), "the pump never ran");
        return ranBeforeReturn && ranHere;
    }

    [Fact]
    public void Schedule_wakeUpsAMillisecondApart_runInline()
    {
        var scheduler = new MqttWriteCoalescing.BurstScheduler(_time, _traffic);

        var inline = Enumerable.Range(0, 10).Select(_ => Wake(scheduler, 1_000)).ToList();

        Assert.All(inline, Assert.True);
        Assert.Equal((10, 0), (_traffic.PumpWakesInline, _traffic.PumpWakesPooled));
    }

    [Fact]
    public void Schedule_twoWakeUpsCloseTogether_bothRunInline()
    {
        var scheduler = new MqttWriteCoalescing.BurstScheduler(_time, _traffic);

        // A publisher catching up after a late timer: two readings 50 µs apart, then quiet.
        var inline = new[] { Wake(scheduler, 1_000), Wake(scheduler, 50), Wake(scheduler, 1_000), Wake(scheduler, 50) };

        Assert.Equal([true, true, true, true], inline);
        Assert.Equal(0, _traffic.PumpWakesPooled);
    }

    [Fact]
    public void Schedule_sustainedBurst_goesToThePool_fromItsThirdWakeUp_untilItIsQuietAgain()
    {
        var scheduler = new MqttWriteCoalescing.BurstScheduler(_time, _traffic);

        // Many publishers' lone messages to one subscriber, 50 µs apart; then a pause of 300 µs.
        var inline = new[] { Wake(scheduler, 1_000), Wake(scheduler, 50), Wake(scheduler, 50), Wake(scheduler, 50), Wake(scheduler, 200), Wake(scheduler, 300), Wake(scheduler, 50) };

        Assert.Equal([true, true, false, false, false, true, true], inline);
        Assert.Equal((4, 3), (_traffic.PumpWakesInline, _traffic.PumpWakesPooled));
    }

    [Fact]
    public void Schedule_firstWakeUp_runsInline_whateverTheClockSays()
    {
        _time.Now = 0; // a clock that starts at zero: nothing before it counts as a wake-up
        var scheduler = new MqttWriteCoalescing.BurstScheduler(_time, _traffic);

        Assert.True(Wake(scheduler, 0));
        Assert.True(Wake(scheduler, 10));
    }
}
