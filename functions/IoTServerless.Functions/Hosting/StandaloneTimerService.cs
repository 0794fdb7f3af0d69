using Cronos;
using Microsoft.Azure.Functions.Worker;

namespace IoTServerless.Functions.Hosting;

/// <summary>Fires one <c>[TimerTrigger]</c> function on its schedule (NCRONTAB with seconds, or a TimeSpan), in UTC like the host.</summary>
internal sealed class StandaloneTimerService(FunctionDescriptor function, IServiceProvider services, IConfiguration configuration, TimeProvider time, ILogger<StandaloneTimerService> logger)
    : BackgroundService
{
    readonly FunctionInvoker _invoker = new(function);

    /// <summary>Invocations so far.</summary>
    public int Invocations { get; private set; }

    public string FunctionName => function.Name;

    /// <summary>The next time after <paramref name="from"/> the schedule fires.</summary>
    public static DateTimeOffset NextOccurrence(string schedule, DateTimeOffset from)
    {
        if (TimeSpan.TryParse(schedule, System.Globalization.CultureInfo.InvariantCulture, out var interval) && !schedule.Contains(' ', StringComparison.Ordinal))
        {
            return from + interval;
        }
        var fields = schedule.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        var cron = CronExpression.Parse(schedule, fields == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard);
        return cron.GetNextOccurrence(from, TimeZoneInfo.Utc) ?? throw new InvalidOperationException($"The schedule '{schedule}' never fires.");
    }

    /// <summary>A schedule written as <c>%Setting%</c> is read from configuration, as the host does.</summary>
    public static string ResolveSchedule(string schedule, IConfiguration configuration)
        => schedule.Length > 2 && schedule[0] == '%' && schedule[^1] == '%'
            ? configuration[schedule[1..^1]] ?? throw new InvalidOperationException($"The setting {schedule} is not configured.")
            : schedule;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var schedule = ResolveSchedule(function.Timer!.Schedule, configuration);
        if (function.Timer.RunOnStartup)
        {
            await InvokeAsync(stoppingToken);
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            var now = time.GetUtcNow();
            var next = NextOccurrence(schedule, now);
            await Task.Delay(next - now, time, stoppingToken);
            await InvokeAsync(stoppingToken);
        }
    }

    async Task InvokeAsync(CancellationToken stoppingToken)
    {
        await using var scope = services.CreateAsyncScope();
        try
        {
            Invocations++;
            await _invoker.InvokeAsync(scope.ServiceProvider, new InvocationContext(null, new TimerInfo(), stoppingToken));
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            logger.LogError(ex, "Timer function {FunctionName} failed", function.Name);
        }
    }
}
