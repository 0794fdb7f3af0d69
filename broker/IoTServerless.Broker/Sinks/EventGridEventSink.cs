using Azure.Messaging;
using Azure.Messaging.EventGrid;

namespace IoTServerless.Broker.Sinks;

/// <summary>Publishes CloudEvents to an Event Grid custom topic (managed identity, no keys).</summary>
public sealed class EventGridEventSink(EventGridPublisherClient client) : IEventSink
{
    public async Task SendAsync(IReadOnlyList<CloudEvent> events, CancellationToken cancellationToken)
        => await client.SendEventsAsync(events, cancellationToken);
}

/// <summary>Used when forwarding is switched off: accepts and discards.</summary>
public sealed class NullEventSink : IEventSink
{
    public Task SendAsync(IReadOnlyList<CloudEvent> events, CancellationToken cancellationToken) => Task.CompletedTask;
}
