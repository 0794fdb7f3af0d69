using System.Text.Json;
using System.Text.Json.Serialization;

namespace IoTServerless.Core.Events;

/// <summary>One MQTT message that left the broker for the functions.</summary>
public sealed record BrokerMessage
{
    /// <summary>Unique per message (broker instance + sequence); stable across redeliveries.</summary>
    public required string Id { get; init; }

    public required string Topic { get; init; }

    /// <summary>The raw payload (base64 in JSON).</summary>
    public required byte[] Payload { get; init; }

    public int Qos { get; init; }

    public bool Retain { get; init; }

    /// <summary>The publishing client id; null for messages the platform itself published.</summary>
    public string? ClientId { get; init; }

    /// <summary>The publishing client's certificate id (AWS IoT's principal()).</summary>
    public string? Principal { get; init; }

    /// <summary>When the broker received it, epoch milliseconds.</summary>
    public long Timestamp { get; init; }
}

/// <summary>The data of one <see cref="EventTypes.MessageBatch"/> CloudEvent.</summary>
public sealed record MessageBatch
{
    public required IReadOnlyList<BrokerMessage> Messages { get; init; }
}

/// <summary>CloudEvent types exchanged between the broker and the functions.</summary>
public static class EventTypes
{
    /// <summary>A batch of MQTT messages from the broker (data: <see cref="MessageBatch"/>).</summary>
    public const string MessageBatch = "IoTServerless.Broker.MessageBatch";

    public const string BrokerSource = "/iotserverless/broker";
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(MessageBatch))]
[JsonSerializable(typeof(LifecycleEvent))]
[JsonSerializable(typeof(IoTServerless.Core.Security.Certificates.CertificateRegisteredEvent))]
public sealed partial class EventJsonContext : JsonSerializerContext;
