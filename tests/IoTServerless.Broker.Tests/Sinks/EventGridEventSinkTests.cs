using Azure;
using Azure.Messaging;
using Azure.Messaging.EventGrid;
using IoTServerless.Broker.Sinks;
using Moq;

namespace IoTServerless.Broker.Tests.Sinks;

/// <summary>The Event Grid sink against a mocked publisher client (the Azure SDK mocking pattern).</summary>
public sealed class EventGridEventSinkTests
{
    [Fact]
    public async Task SendAsync_publishesTheCloudEventsToTheTopic()
    {
        var client = new Mock<EventGridPublisherClient>();
        IEnumerable<CloudEvent>? sent = null;
        client.Setup(c => c.SendEventsAsync(It.IsAny<IEnumerable<CloudEvent>>(), It.IsAny<CancellationToken>()))
            .Callback<IEnumerable<CloudEvent>, CancellationToken>((events, _) => sent = events.ToList())
            .ReturnsAsync(Mock.Of<Response>());
        var sink = new EventGridEventSink(client.Object);
        var batch = new CloudEvent("/iotserverless/broker", "IoTServerless.Broker.MessageBatch", BinaryData.FromString("{\"messages\":[]}"), "application/json") { Id = "b1" };

        await sink.SendAsync([batch], CancellationToken.None);

        Assert.NotNull(sent);
        var only = Assert.Single(sent!);
        Assert.Equal("b1", only.Id);
        Assert.Equal("IoTServerless.Broker.MessageBatch", only.Type);
    }

    [Fact]
    public async Task SendAsync_whenTheTopicRefuses_throwsSoThePipelineRetries()
    {
        var client = new Mock<EventGridPublisherClient>();
        client.Setup(c => c.SendEventsAsync(It.IsAny<IEnumerable<CloudEvent>>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new RequestFailedException(503, "Service Unavailable"));
        var sink = new EventGridEventSink(client.Object);

        var ex = await Assert.ThrowsAsync<RequestFailedException>(() => sink.SendAsync([new CloudEvent("/s", "t", null)], CancellationToken.None));
        Assert.Equal(503, ex.Status);
    }
}
