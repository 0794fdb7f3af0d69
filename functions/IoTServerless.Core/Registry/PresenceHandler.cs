using System.Text.Json;
using IoTServerless.Core.Events;
using IoTServerless.Core.Topics;
using Microsoft.Extensions.Logging;

namespace IoTServerless.Core.Registry;

/// <summary>
/// Records each registered thing's connectivity from the broker's presence lifecycle events.
/// Events for client ids that are not registered things are ignored (nothing is created).
/// </summary>
public sealed class PresenceHandler(ThingStore things, ILogger<PresenceHandler> logger) : IMessageHandler
{
    public string TopicFilter => ReservedTopics.PresenceFilter;

    public async Task HandleAsync(IReadOnlyList<BrokerMessage> messages, CancellationToken cancellationToken)
    {
        // In order: a connect and the disconnect after it for one client may share a batch.
        foreach (var message in messages)
        {
            await HandleAsync(message, cancellationToken);
        }
    }

    async Task HandleAsync(BrokerMessage message, CancellationToken cancellationToken)
    {
        if (message.ClientId is not null)
        {
            // Only the broker itself publishes lifecycle events; a device cannot forge them.
            logger.LogWarning("Ignoring a presence event published by client {ClientId}", message.ClientId);
            return;
        }
        LifecycleEvent? e;
        try
        {
            e = JsonSerializer.Deserialize(message.Payload, EventJsonContext.Default.LifecycleEvent);
        }
        catch (JsonException ex)
        {
            logger.LogWarning(ex, "Ignoring a malformed presence event {MessageId} on {Topic}", message.Id, message.Topic);
            return;
        }
        if (e is null || e.EventType is not (LifecycleEventTypes.Connected or LifecycleEventTypes.Disconnected))
        {
            return;
        }
        if (!ThingName.IsValid(e.ClientId))
        {
            logger.LogDebug("Client id {ClientId} is not a thing name; connectivity not recorded", e.ClientId);
            return;
        }
        var outcome = await things.ApplyLifecycleEventAsync(e, cancellationToken);
        if (outcome == LifecycleEventOutcome.UnknownThing)
        {
            logger.LogDebug("Client {ClientId} is not a registered thing; {EventType} not recorded", e.ClientId, e.EventType);
            return;
        }
        logger.LogInformation("Thing {ThingName} {EventType} at {Timestamp} ({Outcome})", e.ClientId, e.EventType, e.Timestamp, outcome);
    }
}
