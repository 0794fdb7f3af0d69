using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Messaging;
using IoTServerless.Core.Events;

namespace IoTServerless.Core.Tests.Events;

public sealed class EventEnvelopeTests
{
    static BinaryData Body(string json) => BinaryData.FromString(json);

    static JsonObject Message(string id = "m-1", string topic = "farm/pump-1/telemetry", string payloadBase64 = "eyJ4IjoxfQ==") => new()
    {
        ["id"] = id,
        ["topic"] = topic,
        ["payload"] = payloadBase64,
        ["qos"] = 1,
        ["timestamp"] = 1_700_000_000_000,
    };

    static JsonObject BatchEvent(string id, JsonNode? data) => new()
    {
        ["specversion"] = "1.0",
        ["id"] = id,
        ["source"] = EventTypes.BrokerSource,
        ["type"] = EventTypes.MessageBatch,
        ["datacontenttype"] = "application/json",
        ["time"] = "2024-06-01T12:00:00Z",
        ["data"] = data,
    };

    static JsonObject BatchData(params JsonNode?[] messages) => new() { ["messages"] = new JsonArray(messages) };

    static IReadOnlyList<ParsedEvent> ParseEvents(string json)
        => Assert.IsType<EventDelivery.Events>(EventEnvelope.Parse(Body(json))).Items;

    [Fact]
    public void Parse_cloudEventsBatchArray_returnsEveryEventWithItsMessages()
    {
        var json = new JsonArray(
            BatchEvent("e-1", BatchData(Message("m-1", "a/b"), Message("m-2", "a/c"))),
            BatchEvent("e-2", BatchData(Message("m-3", "$aws/events/presence/connected/pump-1")))).ToJsonString();

        var items = ParseEvents(json);

        Assert.Equal(["e-1", "e-2"], items.Select(i => i.CloudEvent.Id));
        Assert.Equal(["m-1", "m-2"], items[0].Batch!.Messages.Select(m => m.Id));
        Assert.Equal(["a/b", "a/c"], items[0].Batch!.Messages.Select(m => m.Topic));
        Assert.Equal("$aws/events/presence/connected/pump-1", Assert.Single(items[1].Batch!.Messages).Topic);
        Assert.Equal("{\"x\":1}", Encoding.UTF8.GetString(items[0].Batch!.Messages[0].Payload));
        Assert.Equal(1, items[0].Batch!.Messages[0].Qos);
        Assert.Equal(1_700_000_000_000, items[0].Batch!.Messages[0].Timestamp);
    }

    [Fact]
    public void Parse_singleCloudEventObject_returnsOneEvent()
    {
        var items = ParseEvents(BatchEvent("single-1", BatchData(Message())).ToJsonString());

        var item = Assert.Single(items);
        Assert.Equal("single-1", item.CloudEvent.Id);
        Assert.Equal(EventTypes.BrokerSource, item.CloudEvent.Source);
        Assert.Equal(new DateTimeOffset(2024, 6, 1, 12, 0, 0, TimeSpan.Zero), item.CloudEvent.Time);
        Assert.Equal("m-1", Assert.Single(item.Batch!.Messages).Id);
    }

    [Fact]
    public void Parse_unknownEventType_isKeptWithoutBatch()
    {
        var json = new JsonArray(
            new JsonObject { ["specversion"] = "1.0", ["id"] = "o-1", ["source"] = "/elsewhere", ["type"] = "Other.Type", ["data"] = new JsonObject { ["anything"] = 1 } },
            BatchEvent("e-1", BatchData(Message()))).ToJsonString();

        var items = ParseEvents(json);

        Assert.Equal(2, items.Count);
        Assert.Equal("Other.Type", items[0].CloudEvent.Type);
        Assert.Null(items[0].Batch);
        Assert.NotNull(items[1].Batch);
    }

    [Fact]
    public void Parse_batchWithBase64Data_isParsed()
    {
        var data = Encoding.UTF8.GetBytes(BatchData(Message("b64")).ToJsonString());
        var json = new JsonObject
        {
            ["specversion"] = "1.0",
            ["id"] = "e-b64",
            ["source"] = EventTypes.BrokerSource,
            ["type"] = EventTypes.MessageBatch,
            ["data_base64"] = Convert.ToBase64String(data),
        }.ToJsonString();

        Assert.Equal("b64", Assert.Single(Assert.Single(ParseEvents(json)).Batch!.Messages).Id);
    }

    [Fact]
    public void CreateBatchEvent_serializedAndParsed_preservesEveryField()
    {
        var allBytes = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        var time = new DateTimeOffset(2024, 6, 1, 12, 34, 56, 789, TimeSpan.Zero);
        var original = new MessageBatch
        {
            Messages =
            [
                new BrokerMessage { Id = "broker-a:1", Topic = "farm/pump-1/telemetry", Payload = allBytes, Qos = 1, Retain = true, ClientId = "pump-1", Principal = new string('c', 64), Timestamp = 1_717_245_296_789 },
                new BrokerMessage { Id = "broker-a:2", Topic = "$aws/events/presence/connected/pump-1", Payload = [], Qos = 0, Retain = false, ClientId = null, Principal = null, Timestamp = 1 },
                new BrokerMessage { Id = "broker-a:3", Topic = "a//b", Payload = Encoding.UTF8.GetBytes("{\"temp\":21.5,\"ü\":\"€\"}"), Qos = 1, Timestamp = long.MaxValue },
            ],
        };
        var first = EventEnvelope.CreateBatchEvent("batch-1", original, time);
        var second = EventEnvelope.CreateBatchEvent("batch-2", new MessageBatch { Messages = [original.Messages[0]] }, time.AddSeconds(1));

        var single = JsonSerializer.Serialize(first);
        var array = JsonSerializer.Serialize(new[] { first, second });

        foreach (var (json, count) in new[] { (single, 1), (array, 2) })
        {
            var items = ParseEvents(json);
            Assert.Equal(count, items.Count);
            var parsed = items[0];
            Assert.Equal("batch-1", parsed.CloudEvent.Id);
            Assert.Equal(EventTypes.BrokerSource, parsed.CloudEvent.Source);
            Assert.Equal(EventTypes.MessageBatch, parsed.CloudEvent.Type);
            Assert.Equal(time, parsed.CloudEvent.Time);
            Assert.Equal("application/json", parsed.CloudEvent.DataContentType);
            Assert.NotNull(parsed.Batch);
            Assert.Equal(original.Messages.Count, parsed.Batch.Messages.Count);
            for (var i = 0; i < original.Messages.Count; i++)
            {
                var expected = original.Messages[i];
                var actual = parsed.Batch.Messages[i];
                Assert.Equal(expected.Id, actual.Id);
                Assert.Equal(expected.Topic, actual.Topic);
                Assert.Equal(expected.Payload, actual.Payload);
                Assert.Equal(expected.Qos, actual.Qos);
                Assert.Equal(expected.Retain, actual.Retain);
                Assert.Equal(expected.ClientId, actual.ClientId);
                Assert.Equal(expected.Principal, actual.Principal);
                Assert.Equal(expected.Timestamp, actual.Timestamp);
            }
            if (count == 2)
            {
                Assert.Equal("batch-2", items[1].CloudEvent.Id);
                Assert.Equal(allBytes, Assert.Single(items[1].Batch!.Messages).Payload);
            }
        }
    }

    [Fact]
    public void WriteBatchEvents_writesTheBatchAsJsonData_andParsesBackLikeTheCloudEvent()
    {
        var time = new DateTimeOffset(2024, 6, 1, 12, 34, 56, 789, TimeSpan.Zero);
        BrokerMessage[] messages =
        [
            new BrokerMessage { Id = "broker-a-1", Topic = "farm/pump-1/telemetry", Payload = [0, 1, 255], Qos = 1, Retain = true, ClientId = "pump-1", Principal = new string('c', 64), Timestamp = 1_717_245_296_789 },
            new BrokerMessage { Id = "broker-a-2", Topic = "$aws/events/presence/connected/pump-1", Payload = Encoding.UTF8.GetBytes("{\"ü\":\"€\"}"), Timestamp = 1 },
        ];
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            EventEnvelope.WriteBatchEvents(writer, "batch-1", messages, time);
        }

        // The data is JSON, not data_base64: payloads are base64 once, not twice.
        var written = JsonNode.Parse(buffer.WrittenSpan)!.AsArray();
        Assert.Equal(2, Assert.Single(written)!["data"]!["messages"]!.AsArray().Count);
        Assert.Null(written[0]!["data_base64"]);
        var parsed = Assert.Single(ParseEvents(Encoding.UTF8.GetString(buffer.WrittenSpan)));
        var viaCloudEvent = Assert.Single(ParseEvents(JsonSerializer.Serialize(new[] { EventEnvelope.CreateBatchEvent("batch-1", new MessageBatch { Messages = messages }, time) })));
        foreach (var item in new[] { parsed, viaCloudEvent })
        {
            Assert.Equal("batch-1", item.CloudEvent.Id);
            Assert.Equal(EventTypes.BrokerSource, item.CloudEvent.Source);
            Assert.Equal(EventTypes.MessageBatch, item.CloudEvent.Type);
            Assert.Equal(time, item.CloudEvent.Time);
            Assert.Equal(messages, item.Batch!.Messages.Select(m => m with { Payload = messages.Single(o => o.Id == m.Id).Payload }));
            Assert.Equal(messages.Select(m => m.Payload), item.Batch.Messages.Select(m => m.Payload));
        }
    }

    [Fact]
    public void Parse_eventGridSubscriptionValidation_returnsTheCode()
    {
        const string Json = """
            [{
              "id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
              "topic": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.EventGrid/topics/iot",
              "subject": "",
              "data": {
                "validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
                "validationUrl": "https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/sub/validate?id=x&t=2024-06-01T00:00:00Z"
              },
              "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
              "eventTime": "2024-06-01T22:12:19.4556811Z",
              "metadataVersion": "1",
              "dataVersion": "1"
            }]
            """;

        var validation = Assert.IsType<EventDelivery.Validation>(EventEnvelope.Parse(Body(Json)));

        Assert.Equal("512d38b6-c7b8-40c8-89fe-f46f9e9622b6", validation.ValidationCode);
    }

    public static TheoryData<string, string> MalformedBodies()
    {
        var ok = Message();
        JsonObject Without(JsonObject o, string name)
        {
            var copy = (JsonObject)o.DeepClone();
            copy.Remove(name);
            return copy;
        }
        JsonObject With(JsonObject o, string name, JsonNode? value)
        {
            var copy = (JsonObject)o.DeepClone();
            copy[name] = value;
            return copy;
        }
        var good = BatchEvent("e-1", BatchData(ok));
        return new TheoryData<string, string>
        {
            { "not JSON", "this is not json" },
            { "truncated JSON", "[{\"specversion\":\"1.0\"" },
            { "empty body", "" },
            { "empty array", "[]" },
            { "number", "42" },
            { "string", "\"hello\"" },
            { "null", "null" },
            { "true", "true" },
            { "array of numbers", "[1, 2]" },
            { "array of null", "[null]" },
            { "array of empty object", "[{}]" },
            { "missing id", new JsonArray(Without(good, "id")).ToJsonString() },
            { "empty id", new JsonArray(With(good, "id", "")).ToJsonString() },
            { "missing source", new JsonArray(Without(good, "source")).ToJsonString() },
            { "missing type", new JsonArray(Without(good, "type")).ToJsonString() },
            { "missing specversion", new JsonArray(Without(good, "specversion")).ToJsonString() },
            { "single object missing id", Without(good, "id").ToJsonString() },
            { "second event missing type", new JsonArray(good.DeepClone(), Without(BatchEvent("e-2", BatchData(Message())), "type")).ToJsonString() },
            { "batch without data", new JsonArray(Without(good, "data")).ToJsonString() },
            { "batch with null data", new JsonArray(BatchEvent("e-1", null)).ToJsonString() },
            { "batch without messages", new JsonArray(BatchEvent("e-1", new JsonObject())).ToJsonString() },
            { "batch with null messages", new JsonArray(BatchEvent("e-1", new JsonObject { ["messages"] = null })).ToJsonString() },
            { "messages not an array", new JsonArray(BatchEvent("e-1", new JsonObject { ["messages"] = "x" })).ToJsonString() },
            { "data a string", new JsonArray(BatchEvent("e-1", "messages")).ToJsonString() },
            { "data a number", new JsonArray(BatchEvent("e-1", 5)).ToJsonString() },
            { "data an array", new JsonArray(BatchEvent("e-1", new JsonArray(ok.DeepClone()))).ToJsonString() },
            { "message null", new JsonArray(BatchEvent("e-1", BatchData(ok.DeepClone(), null))).ToJsonString() },
            { "message a number", new JsonArray(BatchEvent("e-1", BatchData(7))).ToJsonString() },
            { "message without topic", new JsonArray(BatchEvent("e-1", BatchData(Without(ok, "topic")))).ToJsonString() },
            { "message with empty topic", new JsonArray(BatchEvent("e-1", BatchData(With(ok, "topic", "")))).ToJsonString() },
            { "message without payload", new JsonArray(BatchEvent("e-1", BatchData(Without(ok, "payload")))).ToJsonString() },
            { "message with null payload", new JsonArray(BatchEvent("e-1", BatchData(With(ok, "payload", null)))).ToJsonString() },
            { "message with non-base64 payload", new JsonArray(BatchEvent("e-1", BatchData(With(ok, "payload", "%%%")))).ToJsonString() },
            { "message without id", new JsonArray(BatchEvent("e-1", BatchData(Without(ok, "id")))).ToJsonString() },
            { "message with empty id", new JsonArray(BatchEvent("e-1", BatchData(With(ok, "id", "")))).ToJsonString() },
            { "message with null id", new JsonArray(BatchEvent("e-1", BatchData(With(ok, "id", null)))).ToJsonString() },
            { "message qos a string", new JsonArray(BatchEvent("e-1", BatchData(With(ok, "qos", "one")))).ToJsonString() },
            { "event id a number", new JsonArray(With(good, "id", 5)).ToJsonString() },
            { "event time not a date", new JsonArray(With(good, "time", "yesterday")).ToJsonString() },
            { "invalid data_base64", new JsonArray(With(Without(good, "data"), "data_base64", "%%%")).ToJsonString() },
            { "data_base64 not JSON", new JsonArray(With(Without(good, "data"), "data_base64", Convert.ToBase64String("nope"u8.ToArray()))).ToJsonString() },
            { "extension attribute an object", new JsonArray(With(good, "myext", new JsonObject { ["a"] = 1 })).ToJsonString() },
            { "extension attribute an array", new JsonArray(With(good, "myext", new JsonArray(1, 2))).ToJsonString() },
            {
                "Event Grid schema, not validation",
                """[{"id":"1","topic":"/t","subject":"s","eventType":"Contoso.Items.ItemReceived","eventTime":"2024-06-01T00:00:00Z","data":{"a":1},"dataVersion":"1","metadataVersion":"1"}]"""
            },
            {
                "Event Grid schema validation without code",
                """[{"id":"1","topic":"/t","subject":"","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2024-06-01T00:00:00Z","data":{},"dataVersion":"1","metadataVersion":"1"}]"""
            },
            {
                "Event Grid schema missing fields",
                """[{"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent"}]"""
            },
            {
                "Event Grid schema single object",
                """{"id":"1","topic":"/t","subject":"s","eventType":"Contoso.Items.ItemReceived","eventTime":"2024-06-01T00:00:00Z","data":{"a":1},"dataVersion":"1"}"""
            },
        };
    }

    [Theory]
    [MemberData(nameof(MalformedBodies))]
    public void Parse_malformedBody_throwsInvalidEventDelivery(string shape, string json)
    {
        var ex = Record.Exception(() => EventEnvelope.Parse(Body(json)));

        Assert.True(ex is InvalidEventDeliveryException, $"{shape}: expected InvalidEventDeliveryException, got {ex?.GetType().FullName ?? "no exception"}: {ex?.Message}");
        Assert.False(string.IsNullOrWhiteSpace(ex!.Message));
    }

    [Fact]
    public void Parse_oneBadEventInBatch_rejectsTheWholeDelivery()
    {
        // Nothing is applied when any event is malformed: the whole delivery is rejected up front.
        var json = new JsonArray(
            BatchEvent("e-1", BatchData(Message())),
            BatchEvent("e-2", BatchData(Message(topic: "")))).ToJsonString();

        var ex = Assert.Throws<InvalidEventDeliveryException>(() => EventEnvelope.Parse(Body(json)));
        Assert.Contains("e-2", ex.Message);
    }
}
