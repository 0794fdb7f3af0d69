namespace IoTServerless.Broker.Sinks;

/// <summary>Where batched CloudEvents go. Throws when the events were not accepted.</summary>
public interface IEventSink
{
    /// <summary>Sends an encoded CloudEvents batch: a JSON array of CloudEvents (<c>application/cloudevents-batch+json</c>).</summary>
    Task SendAsync(ReadOnlyMemory<byte> cloudEvents, CancellationToken cancellationToken);
}
