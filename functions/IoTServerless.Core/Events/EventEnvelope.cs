using System.Text.Json;
using Azure.Messaging;
using Azure.Messaging.EventGrid;
using Azure.Messaging.EventGrid.SystemEvents;

namespace IoTServerless.Core.Events;

/// <summary>A delivery to the events webhook, parsed and validated as a whole before anything is applied.</summary>
public abstract record EventDelivery
{
    /// <summary>Event Grid's subscription-validation event (Event Grid schema): answer with the code.</summary>
    public sealed record Validation(string ValidationCode) : EventDelivery;

    /// <summary>CloudEvents whose data all parsed.</summary>
    public sealed record Events(IReadOnlyList<ParsedEvent> Items) : EventDelivery;
}

/// <summary>A CloudEvent and its typed data (a <see cref="MessageBatch"/> for known types; null for unknown types).</summary>
public sealed record ParsedEvent(CloudEvent CloudEvent, MessageBatch? Batch);

public sealed class InvalidEventDeliveryException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Parses the bodies that Event Grid (or the broker's webhook sink) posts to the events endpoint.</summary>
public static class EventEnvelope
{
    /// <summary>Parses a whole delivery; throws <see cref="InvalidEventDeliveryException"/> on the first problem.</summary>
    public static EventDelivery Parse(BinaryData body)
    {
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(body);
            root = document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new InvalidEventDeliveryException("The body is not valid JSON.", ex);
        }

        var first = root.ValueKind switch
        {
            JsonValueKind.Array when root.GetArrayLength() > 0 => root[0],
            JsonValueKind.Object => root,
            JsonValueKind.Array => throw new InvalidEventDeliveryException("The body is an empty array."),
            _ => throw new InvalidEventDeliveryException("The body must be a CloudEvent or an array of CloudEvents."),
        };
        if (first.ValueKind == JsonValueKind.Object && first.TryGetProperty("eventType", out _) && !first.TryGetProperty("specversion", out _))
        {
            return ParseEventGridSchema(body);
        }

        CloudEvent[] events;
        try
        {
            events = root.ValueKind == JsonValueKind.Array
                ? CloudEvent.ParseMany(body, skipValidation: false)
                : [CloudEvent.Parse(body, skipValidation: false)!];
        }
        catch (Exception ex) when (ex is ArgumentException or JsonException or FormatException or InvalidOperationException)
        {
            throw new InvalidEventDeliveryException($"The body is not a valid CloudEvents 1.0 batch: {ex.Message}", ex);
        }

        var parsed = new List<ParsedEvent>(events.Length);
        foreach (var cloudEvent in events)
        {
            if (string.IsNullOrEmpty(cloudEvent.Id))
            {
                throw new InvalidEventDeliveryException("A CloudEvent has no id.");
            }
            parsed.Add(new ParsedEvent(cloudEvent, cloudEvent.Type == EventTypes.MessageBatch ? ParseBatch(cloudEvent) : null));
        }
        return new EventDelivery.Events(parsed);
    }

    static EventDelivery ParseEventGridSchema(BinaryData body)
    {
        EventGridEvent[] events;
        try
        {
            events = EventGridEvent.ParseMany(body);
        }
        catch (Exception ex) when (ex is ArgumentException or JsonException or FormatException or InvalidOperationException)
        {
            throw new InvalidEventDeliveryException($"The body is not a valid Event Grid event array: {ex.Message}", ex);
        }
        foreach (var e in events)
        {
            if (e.TryGetSystemEventData(out var data) && data is SubscriptionValidationEventData validation && !string.IsNullOrEmpty(validation.ValidationCode))
            {
                return new EventDelivery.Validation(validation.ValidationCode);
            }
        }
        throw new InvalidEventDeliveryException("Only CloudEvents 1.0 are accepted (the Event Grid schema is accepted for the subscription-validation event only).");
    }

    static MessageBatch ParseBatch(CloudEvent cloudEvent)
    {
        if (cloudEvent.Data is null)
        {
            throw new InvalidEventDeliveryException($"Event {cloudEvent.Id} of type {EventTypes.MessageBatch} has no data.");
        }
        MessageBatch? batch;
        try
        {
            batch = JsonSerializer.Deserialize(cloudEvent.Data, EventJsonContext.Default.MessageBatch);
        }
        catch (JsonException ex)
        {
            throw new InvalidEventDeliveryException($"Event {cloudEvent.Id}: the data is not a message batch: {ex.Message}", ex);
        }
        if (batch?.Messages is null)
        {
            throw new InvalidEventDeliveryException($"Event {cloudEvent.Id}: the data has no messages.");
        }
        foreach (var message in batch.Messages)
        {
            if (message is null || string.IsNullOrEmpty(message.Id) || string.IsNullOrEmpty(message.Topic) || message.Payload is null)
            {
                throw new InvalidEventDeliveryException($"Event {cloudEvent.Id}: a message lacks its id, topic or payload.");
            }
        }
        return batch;
    }

    /// <summary>
    /// Writes a CloudEvents batch (<c>application/cloudevents-batch+json</c>) holding the one CloudEvent
    /// that carries <paramref name="messages"/>, in a single pass: the same JSON as serializing
    /// <see cref="CreateBatchEvent"/>, without building the data first and parsing it again.
    /// </summary>
    public static void WriteBatchEvents(Utf8JsonWriter writer, string id, IEnumerable<BrokerMessage> messages, DateTimeOffset time)
    {
        writer.WriteStartArray();
        writer.WriteStartObject();
        writer.WriteString("specversion", "1.0");
        writer.WriteString("id", id);
        writer.WriteString("source", EventTypes.BrokerSource);
        writer.WriteString("type", EventTypes.MessageBatch);
        writer.WriteString("time", time);
        writer.WriteString("datacontenttype", "application/json");
        writer.WritePropertyName("data");
        writer.WriteStartObject();
        writer.WritePropertyName("messages");
        writer.WriteStartArray();
        foreach (var message in messages)
        {
            JsonSerializer.Serialize(writer, message, EventJsonContext.Default.BrokerMessage);
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.WriteEndArray();
        writer.Flush();
    }

    /// <summary>Builds the CloudEvent that carries a batch.</summary>
    public static CloudEvent CreateBatchEvent(string id, MessageBatch batch, DateTimeOffset time)
        => new(EventTypes.BrokerSource, EventTypes.MessageBatch, BinaryData.FromBytes(JsonSerializer.SerializeToUtf8Bytes(batch, EventJsonContext.Default.MessageBatch)), "application/json")
        {
            Id = id,
            Time = time,
        };
}
