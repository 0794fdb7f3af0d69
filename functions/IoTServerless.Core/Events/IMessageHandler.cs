namespace IoTServerless.Core.Events;

/// <summary>Handles the broker messages whose topic matches <see cref="TopicFilter"/>. Must be idempotent.</summary>
public interface IMessageHandler
{
    string TopicFilter { get; }

    /// <summary>
    /// The messages of one event batch that match <see cref="TopicFilter"/>, in the order the broker
    /// received them. A handler may work on independent messages concurrently (different things) but
    /// keeps the order of the messages that depend on each other.
    /// </summary>
    Task HandleAsync(IReadOnlyList<BrokerMessage> messages, CancellationToken cancellationToken);
}
