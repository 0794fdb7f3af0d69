using Microsoft.Extensions.Logging;
using IoTServerless.Core.Topics;

namespace IoTServerless.Core.Events;

/// <summary>
/// Applies parsed events: skips ids already processed, routes each message of a batch to the handlers
/// whose topic filter matches, and records the event id once every handler has succeeded.
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
            foreach (var message in parsed.Batch.Messages)
            {
                foreach (var handler in _handlers)
                {
                    if (MqttTopic.Matches(handler.TopicFilter, message.Topic))
                    {
                        await handler.HandleAsync(message, cancellationToken);
                    }
                }
            }
            await processed.MarkProcessedAsync(id, cancellationToken);
            applied++;
        }
        return new DispatchResult(applied, duplicates, ignored);
    }
}

public readonly record struct DispatchResult(int Applied, int Duplicates, int Ignored);
