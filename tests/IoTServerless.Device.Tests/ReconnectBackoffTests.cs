namespace IoTServerless.Device.Tests;

public sealed class ReconnectBackoffTests
{
    [Fact]
    public void GetDelay_grows_exponentially_with_jitter_and_is_capped()
    {
        var random = new Random(7);
        var initial = TimeSpan.FromSeconds(1);
        var max = TimeSpan.FromSeconds(30);
        for (var attempt = 0; attempt < 40; attempt++)
        {
            var ceiling = Math.Min(max.TotalMilliseconds, initial.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 30)));
            for (var i = 0; i < 50; i++)
            {
                var delay = ReconnectBackoff.GetDelay(attempt, initial, max, random).TotalMilliseconds;
                Assert.InRange(delay, ceiling / 2, ceiling);
            }
        }
        Assert.True(ReconnectBackoff.GetDelay(3, initial, max, random) > TimeSpan.FromSeconds(4));
        Assert.True(ReconnectBackoff.GetDelay(100, initial, max, random) <= max);
    }

    [Fact]
    public void GetDelay_same_attempt_varies_between_calls()
    {
        var random = new Random(1);
        var delays = Enumerable.Range(0, 20)
            .Select(_ => ReconnectBackoff.GetDelay(5, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), random))
            .Distinct()
            .Count();

        Assert.True(delays > 10);
    }
}
