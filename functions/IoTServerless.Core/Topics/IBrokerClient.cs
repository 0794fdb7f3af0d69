namespace IoTServerless.Core.Topics;

/// <summary>The broker's internal API as the functions see it: publish to devices, disconnect a client.</summary>
public interface IBrokerClient
{
    Task PublishAsync(string topic, ReadOnlyMemory<byte> payload, int qos, bool retain, CancellationToken cancellationToken);

    /// <summary>
    /// Publishes several messages in one call, in order (what a handler answers for a whole event
    /// batch: shadow responses, rule republishes). At most <see cref="OutboundMessage.MaxBatchCount"/>.
    /// </summary>
    Task PublishBatchAsync(IReadOnlyList<OutboundMessage> messages, CancellationToken cancellationToken);

    /// <summary>Disconnects a live client; false when no such client is connected.</summary>
    Task<bool> DisconnectAsync(string clientId, CancellationToken cancellationToken);
}

/// <summary>A message the platform publishes to devices through the broker.</summary>
public sealed record OutboundMessage(string Topic, ReadOnlyMemory<byte> Payload, int Qos = 0, bool Retain = false)
{
    /// <summary>The most messages one batch publish carries.</summary>
    public const int MaxBatchCount = 500;

    /// <summary>The largest payload the broker publishes (devices get the same limit).</summary>
    public const int MaxPayloadBytes = 128 * 1024;
}

/// <summary>The body of a batch publish.</summary>
public sealed record OutboundBatch(IReadOnlyList<OutboundMessage> Messages);
