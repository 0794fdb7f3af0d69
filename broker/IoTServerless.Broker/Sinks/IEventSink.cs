using Azure.Messaging;

namespace IoTServerless.Broker.Sinks;

/// <summary>Where batched CloudEvents go. Throws when the events were not accepted.</summary>
public interface IEventSink
{
    Task SendAsync(IReadOnlyList<CloudEvent> events, CancellationToken cancellationToken);
}
