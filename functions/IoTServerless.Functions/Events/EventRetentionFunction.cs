using IoTServerless.Core.Events;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Options;

namespace IoTServerless.Functions.Events;

public sealed class EventRetentionOptions
{
    public const string SectionName = "Events";

    /// <summary>How long processed event ids are remembered (longer than Event Grid's retry window).</summary>
    public int ProcessedEventRetentionHours { get; set; } = 24;
}

/// <summary>Forgets processed event ids once Event Grid can no longer redeliver them.</summary>
public sealed class EventRetentionFunction(IProcessedEventStore processed, IOptions<EventRetentionOptions> options, TimeProvider time, ILogger<EventRetentionFunction> logger)
{
    [Function("EventRetention")]
    public async Task RunAsync([TimerTrigger("0 17 * * * *")] TimerInfo timer, CancellationToken cancellationToken)
    {
        var cutoff = time.GetUtcNow().AddHours(-options.Value.ProcessedEventRetentionHours);
        var purged = await processed.PurgeAsync(cutoff, cancellationToken);
        logger.LogInformation("Purged {Count} processed event ids older than {Cutoff}", purged, cutoff);
    }
}
