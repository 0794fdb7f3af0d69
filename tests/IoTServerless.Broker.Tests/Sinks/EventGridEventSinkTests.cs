using System.Text.Json;
using Azure;
using Azure.Messaging;
using Azure.Messaging.EventGrid;
using IoTServerless.Broker.Sinks;
using IoTServerless.Core.Events;
using Moq;

namespace IoTServerless.Broker.Tests.Sinks;

/// <summary>The Event Grid sink against a mocked publisher client (the Azure SDK mocking pattern).</summary>
public sealed class EventGridEventSinkTests
{
    [Fact]
    public async Task SendAsync_publishesTheEncodedCloudEventsToTheTopic()
    {
        var client = new Mock<EventGridPublisherClient>();
        byte[]? sent = null;
        client.Setup(c => c.SendEncodedCloudEventsAsync(It.IsAny<ReadOnlyMemory<byte>>(), It.IsAny<CancellationToken>()))
            .Callback<ReadOnlyMemory<byte>, CancellationToken>((events, _) => sent = events.ToArray())
            .ReturnsAsync(Mock.Of<Response>());
        var sink = new EventGridEventSink(client.Object);
        var encoded = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(encoded))
        {
            EventEnvelope.WriteBatchEvents(writer, "b1", [new BrokerMessage { Id = "m1", Topic = "farmA/sensor/soil-1/data", Payload = [1, 2] }], DateTimeOffset.UtcNow);
        }

        await sink.SendAsync(encoded.WrittenMemory, CancellationToken.None);

        Assert.NotNull(sent);
        var only = Assert.Single(CloudEvent.ParseMany(BinaryData.FromBytes(sent!)));
        Assert.Equal("b1", only.Id);
        Assert.Equal("IoTServerless.Broker.MessageBatch", only.Type);
    }

    [Fact]
    public async Task SendAsync_whenTheTopicRefuses_throwsSoThePipelineRetries()
    {
        var client = new Mock<EventGridPublisherClient>();
        client.Setup(c => c.SendEncodedCloudEventsAsync(It.IsAny<ReadOnlyMemory<byte>>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new RequestFailedException(503, "Service Unavailable"));
        var sink = new EventGridEventSink(client.Object);

        var ex = await Assert.ThrowsAsync<RequestFailedException>(() => sink.SendAsync("[]"u8.ToArray(), CancellationToken.None));
        Assert.Equal(503, ex.Status);
    }
}
