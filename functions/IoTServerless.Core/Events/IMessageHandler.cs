namespace IoTServerless.Core.Events;

/// <summary>Handles the broker messages whose topic matches <see cref="TopicFilter"/>. Must be idempotent.</summary>
public interface IMessageHandler
{
    string TopicFilter { get; }

    Task HandleAsync(BrokerMessage message, CancellationToken cancellationToken);
}
