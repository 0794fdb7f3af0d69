namespace IoTServerless.Core.Topics;

/// <summary>The broker's internal API as the functions see it: publish to devices, disconnect a client.</summary>
public interface IBrokerClient
{
    Task PublishAsync(string topic, ReadOnlyMemory<byte> payload, int qos, bool retain, CancellationToken cancellationToken);

    /// <summary>Disconnects a live client; false when no such client is connected.</summary>
    Task<bool> DisconnectAsync(string clientId, CancellationToken cancellationToken);
}
