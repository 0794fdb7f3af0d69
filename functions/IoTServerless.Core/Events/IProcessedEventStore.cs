namespace IoTServerless.Core.Events;

/// <summary>Remembers which event ids were fully handled, so a redelivered event is not applied twice.</summary>
public interface IProcessedEventStore
{
    Task<bool> IsProcessedAsync(string eventId, CancellationToken cancellationToken);

    Task MarkProcessedAsync(string eventId, CancellationToken cancellationToken);

    /// <summary>Forgets ids recorded before <paramref name="cutoff"/>; returns how many.</summary>
    Task<int> PurgeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);
}
