using IoTServerless.Functions.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace IoTServerless.Functions.Tests.Hosting;

public sealed class StandaloneTimerTests
{
    [Theory]
    [InlineData("0 17 * * * *", "2026-11-28T10:05:00Z", "2026-11-28T10:17:00Z")]
    [InlineData("0 17 * * * *", "2026-11-28T10:17:00Z", "2026-11-28T11:17:00Z")]
    [InlineData("*/15 * * * * *", "2026-11-28T10:00:01Z", "2026-11-28T10:00:15Z")]
    [InlineData("0 0 * * *", "2026-11-28T10:00:00Z", "2026-11-29T00:00:00Z")]
    [InlineData("00:00:05", "2026-11-28T10:00:00Z", "2026-11-28T10:00:05Z")]
    public void NextOccurrence_followsTheHostsScheduleFormats(string schedule, string from, string expected)
        => Assert.Equal(DateTimeOffset.Parse(expected), StandaloneTimerService.NextOccurrence(schedule, DateTimeOffset.Parse(from)));

    [Fact]
    public void ResolveSchedule_readsPercentSettingsFromConfiguration()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["SweepSchedule"] = "0 */5 * * * *" }).Build();
        Assert.Equal("0 */5 * * * *", StandaloneTimerService.ResolveSchedule("%SweepSchedule%", config));
        Assert.Throws<InvalidOperationException>(() => StandaloneTimerService.ResolveSchedule("%Missing%", config));
    }

    [Fact]
    public async Task TimerFunction_firesOnItsSchedule()
    {
        var builder = WebApplication.CreateBuilder(["--urls", "http://127.0.0.1:0"]);
        builder.Services.AddSingleton<TickCounter>();
        builder.AddStandaloneFunctions(typeof(TickFunction).Assembly);
        await using var app = builder.Build();
        app.MapStandaloneFunctions();
        await app.StartAsync();

        var counter = app.Services.GetRequiredService<TickCounter>();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (counter.Count < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        await app.StopAsync();
        Assert.True(counter.Count >= 2, $"ticked {counter.Count} times");
    }
}

public sealed class TickCounter
{
    int _count;
    public int Count => Volatile.Read(ref _count);
    public void Increment() => Interlocked.Increment(ref _count);
}

/// <summary>A timer function in this assembly, fired by the standalone host every second.</summary>
public sealed class TickFunction(TickCounter counter)
{
    [Function("Tick")]
    public Task RunAsync([TimerTrigger("* * * * * *")] TimerInfo timer, CancellationToken cancellationToken)
    {
        counter.Increment();
        return Task.CompletedTask;
    }
}
