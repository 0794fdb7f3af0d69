using Microsoft.Extensions.Logging;
using IoTServerless.Core.Topics;

namespace IoTServerless.Core.Events;

/// <summary>
/// Applies parsed events: skips ids already processed, gives each handler the messages of a batch
/// its topic filter matches (in order, in one call), and records the event id once every handler has
/// succeeded.
/// </summary>
public sealed class EventDispatcher(IEnumerable<IMessageHandler> handlers, IProcessedEventStore processed, ILogger<EventDispatcher> logger)
{
    readonly IMessageHandler[] _handlers = [.. handlers];

    public async Task<DispatchResult> DispatchAsync(IReadOnlyList<ParsedEvent> events, CancellationToken cancellationToken)
    {
        int applied = 0, duplicates = 0, ignored = 0;
        foreach (var parsed in events)
        {
            var id = parsed.CloudEvent.Id;
            if (parsed.Batch is null)
            {
                logger.LogWarning("Ignoring event {EventId} of unknown type {EventType}", id, parsed.CloudEvent.Type);
                ignored++;
                continue;
            }
            if (await processed.IsProcessedAsync(id, cancellationToken))
            {
                logger.LogInformation("Event {EventId} was already processed; skipping the redelivery", id);
                duplicates++;
                continue;
            }
            foreach (var handler in _handlers)
            {
                var matching = parsed.Batch.Messages.Where(m => MqttTopic.Matches(handler.TopicFilter, m.Topic)).ToList();
                if (matching.Count > 0)
                {
                    await handler.HandleAsync(matching, cancellationToken);
                }
            }
            await processed.MarkProcessedAsync(id, cancellationToken);
            applied++;
        }
        return new DispatchResult(applied, duplicates, ignored);
    }
}

public readonly record struct DispatchResult(int Applied, int Duplicates, int Ignored);
