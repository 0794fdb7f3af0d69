using IoTServerless.Core.Rules.Actions;

namespace IoTServerless.Core.Tests.Rules.Actions;

public sealed class RuleActionRetryTests
{
    static RuleActionRetry Retry() => new(new RuleActionOptions { InitialDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromMilliseconds(1000) }, TimeProvider.System);

    [Theory]
    [InlineData(1, 50, 100)]
    [InlineData(2, 100, 200)]
    [InlineData(3, 200, 400)]
    [InlineData(5, 500, 1000)]
    [InlineData(30, 500, 1000)]
    public void Backoff_doubles_each_attempt_with_jitter_and_cap(int attempt, double min, double max)
    {
        for (var i = 0; i < 200; i++)
        {
            var delay = Retry().Backoff(attempt, retryAfter: null).TotalMilliseconds;
            Assert.InRange(delay, min, max);
        }
    }

    [Fact]
    public void Backoff_honours_retry_after_up_to_the_cap()
    {
        Assert.True(Retry().Backoff(1, TimeSpan.FromMilliseconds(700)) >= TimeSpan.FromMilliseconds(700));
        Assert.True(Retry().Backoff(1, TimeSpan.FromHours(1)) <= TimeSpan.FromMilliseconds(1000));
    }

    [Fact]
    public async Task RunAsync_permanent_failure_ends_at_once()
    {
        var attempts = 0;

        var error = await Retry().RunAsync(_ => { attempts++; return Task.FromResult(ActionAttempt.Permanent("HTTP 400 Bad Request")); }, CancellationToken.None);

        Assert.Equal("HTTP 400 Bad Request", error);
        Assert.Equal(1, attempts);
    }

    [Fact]
    public async Task RunAsync_cancellation_stops_retrying()
    {
        using var cancel = new CancellationTokenSource();
        var attempts = 0;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Retry().RunAsync(_ =>
        {
            attempts++;
            cancel.Cancel();
            return Task.FromResult(ActionAttempt.Transient("HTTP 503"));
        }, cancel.Token));
        Assert.Equal(1, attempts);
    }
}
