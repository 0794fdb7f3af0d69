using System.Buffers;
using System.Text.Json;
using IoTServerless.Broker.Sinks;
using IoTServerless.Core.Events;

namespace IoTServerless.Broker.Tests.Sinks;

/// <summary>A batch is cut by its size as encoded, so the estimate must never fall short of the real JSON (Event Grid refuses events over 1 MB).</summary>
public sealed class BatchSizeTests
{
    [Theory]
    [InlineData("farmA/sensor/soil-001/data", "soil-001", 0)]
    [InlineData("farmA/sensor/soil-001/data", "soil-001", 1)]
    [InlineData("farmA/sensor/soil-001/data", "soil-001", 100)]
    [InlineData("ферма/датчик/влажность\"\\<>&'", "насос-1\"\\", 4096)]
    [InlineData("🌱/🚿/\u0001\u001f", "🌱", 7)]
    public void EncodedSize_ofAnyMessage_isAtLeastWhatTheBatchJsonTakes(string topic, string clientId, int payloadBytes)
    {
        var message = new BrokerMessage
        {
            Id = "0123456789ab-" + long.MaxValue,
            Topic = topic,
            Payload = Enumerable.Range(0, payloadBytes).Select(i => (byte)(i * 37)).ToArray(),
            Qos = 1,
            Retain = true,
            ClientId = clientId,
            Principal = new string('f', 64),
            Timestamp = long.MaxValue,
        };
        var empty = Encode([]);
        var messages = Enumerable.Repeat(message, 50).ToArray();

        var written = Encode(messages) - empty;

        Assert.InRange(written, 1, messages.Length * EventPipeline.EncodedSize(message));
    }

    static int Encode(BrokerMessage[] messages)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            EventEnvelope.WriteBatchEvents(writer, "0123456789ab-b1", messages, DateTimeOffset.UnixEpoch);
        }
        return buffer.WrittenCount;
    }
}
