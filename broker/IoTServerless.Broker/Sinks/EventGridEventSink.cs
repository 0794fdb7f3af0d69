using Azure.Messaging.EventGrid;

namespace IoTServerless.Broker.Sinks;

/// <summary>Publishes CloudEvents to an Event Grid custom topic (managed identity, no keys), as encoded by the pipeline.</summary>
public sealed class EventGridEventSink(EventGridPublisherClient client) : IEventSink
{
    public async Task SendAsync(ReadOnlyMemory<byte> cloudEvents, CancellationToken cancellationToken)
        => await client.SendEncodedCloudEventsAsync(cloudEvents, cancellationToken);
}

/// <summary>Used when forwarding is switched off: accepts and discards.</summary>
public sealed class NullEventSink : IEventSink
{
    public Task SendAsync(ReadOnlyMemory<byte> cloudEvents, CancellationToken cancellationToken) => Task.CompletedTask;
}
