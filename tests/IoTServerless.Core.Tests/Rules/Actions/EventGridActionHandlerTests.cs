using System.Text.Json;
using Azure;
using Azure.Messaging;
using Azure.Messaging.EventGrid;
using IoTServerless.Core.Rules;
using IoTServerless.Core.Rules.Actions;
using Microsoft.Extensions.DependencyInjection;
using Moq;

namespace IoTServerless.Core.Tests.Rules.Actions;

/// <summary>The Event Grid client mocked as the Azure SDK intends (virtual SendEventsAsync, protected constructor).</summary>
public sealed class EventGridActionHandlerTests : IDisposable
{
    const string Topic1 = "https://farm-topic.westeurope-1.eventgrid.azure.net/api/events";
    const string Topic2 = "https://alerts-topic.westeurope-1.eventgrid.azure.net/api/events";

    readonly Dictionary<Uri, Mock<EventGridPublisherClient>> _clients = [];
    readonly List<(Uri Endpoint, List<CloudEvent> Events)> _sent = [];
    readonly ActionTestHost _host;

    public EventGridActionHandlerTests()
    {
        var factory = new Mock<IEventGridPublisherFactory>();
        factory.Setup(f => f.GetClient(It.IsAny<Uri>())).Returns((Uri endpoint) => Client(endpoint).Object);
        _host = new ActionTestHost(configure: services => services.AddSingleton(factory.Object), maxAttempts: 3);
    }

    public void Dispose() => _host.Dispose();

    Mock<EventGridPublisherClient> Client(Uri endpoint)
    {
        lock (_clients)
        {
            if (!_clients.TryGetValue(endpoint, out var client))
            {
                client = new Mock<EventGridPublisherClient>();
                client.Setup(c => c.SendEventsAsync(It.IsAny<IEnumerable<CloudEvent>>(), It.IsAny<CancellationToken>()))
                    .Callback((IEnumerable<CloudEvent> events, CancellationToken _) =>
                    {
                        lock (_sent)
                        {
                            _sent.Add((endpoint, events.ToList()));
                        }
                    })
                    .ReturnsAsync(Mock.Of<Response>());
                _clients[endpoint] = client;
            }
            return client;
        }
    }

    static RuleAction Action(string endpoint = Topic1, string type = "Farm.Soil.Reading", string? subject = null)
        => new() { EventGrid = new EventGridAction { TopicEndpoint = endpoint, Type = type, Subject = subject } };

    [Fact]
    public async Task ExecuteAsync_publishes_output_as_cloud_event()
    {
        var results = await _host.Handler("eventGrid").ExecuteAsync([ActionTestHost.Invocation(Action(), output: """{"moisture":31,"pump":"pump-1"}""")], CancellationToken.None);

        Assert.Equal([null], results);
        var (endpoint, events) = Assert.Single(_sent);
        Assert.Equal(new Uri(Topic1), endpoint);
        var cloudEvent = Assert.Single(events);
        Assert.Equal("/iotserverless/rules/soil_rule", cloudEvent.Source);
        Assert.Equal("Farm.Soil.Reading", cloudEvent.Type);
        Assert.Equal("farm/pump-1/telemetry", cloudEvent.Subject);
        Assert.StartsWith("msg-1:soil_rule:", cloudEvent.Id);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_760_000_000_123), cloudEvent.Time);
        Assert.Equal("application/json", cloudEvent.DataContentType);
        using var data = JsonDocument.Parse(cloudEvent.Data!.ToString());
        Assert.Equal(31, data.RootElement.GetProperty("moisture").GetInt32());
        Assert.Equal("pump-1", data.RootElement.GetProperty("pump").GetString());
    }

    [Fact]
    public async Task ExecuteAsync_redelivery_carries_the_same_event_id_and_other_actions_other_ids()
    {
        var handler = _host.Handler("eventGrid");
        var invocation = ActionTestHost.Invocation(Action());

        await handler.ExecuteAsync([invocation], CancellationToken.None);
        await handler.ExecuteAsync([invocation with { Output = invocation.Output.ToArray() }], CancellationToken.None);
        await handler.ExecuteAsync([ActionTestHost.Invocation(Action(type: "Farm.Soil.Alert"))], CancellationToken.None);
        await handler.ExecuteAsync([ActionTestHost.Invocation(Action(), rule: "other_rule")], CancellationToken.None);
        await handler.ExecuteAsync([ActionTestHost.Invocation(Action(), message: ActionTestHost.Message(messageId: "msg-2"))], CancellationToken.None);

        var ids = _sent.Select(s => Assert.Single(s.Events).Id).ToList();
        Assert.Equal(ids[0], ids[1]);
        Assert.Equal(4, ids.Distinct().Count());
    }

    [Fact]
    public async Task ExecuteAsync_batches_events_per_topic_endpoint()
    {
        var invocations = new[]
        {
            ActionTestHost.Invocation(Action(Topic1), message: ActionTestHost.Message(messageId: "a")),
            ActionTestHost.Invocation(Action(Topic2), message: ActionTestHost.Message(messageId: "b")),
            ActionTestHost.Invocation(Action(Topic1), message: ActionTestHost.Message(messageId: "c")),
        };

        var results = await _host.Handler("eventGrid").ExecuteAsync(invocations, CancellationToken.None);

        Assert.Equal([null, null, null], results);
        Assert.Equal(2, _sent.Count);
        Assert.Equal(["a", "c"], _sent.Single(s => s.Endpoint == new Uri(Topic1)).Events.Select(e => e.Id.Split(':')[0]));
        Assert.Equal(["b"], _sent.Single(s => s.Endpoint == new Uri(Topic2)).Events.Select(e => e.Id.Split(':')[0]));
    }

    [Fact]
    public async Task ExecuteAsync_output_that_is_not_json_is_sent_as_binary_data()
    {
        await _host.Handler("eventGrid").ExecuteAsync([ActionTestHost.Invocation(Action(), output: "raw bytes")], CancellationToken.None);

        var cloudEvent = Assert.Single(Assert.Single(_sent).Events);
        Assert.Equal("application/octet-stream", cloudEvent.DataContentType);
        Assert.Equal("raw bytes", cloudEvent.Data!.ToString());
    }

    [Fact]
    public async Task ExecuteAsync_500_from_event_grid_is_retried_then_reported_for_each_event_of_the_batch()
    {
        var client = Client(new Uri(Topic1));
        client.Setup(c => c.SendEventsAsync(It.IsAny<IEnumerable<CloudEvent>>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new RequestFailedException(500, "Internal server error", "InternalServerError", null));

        var results = await _host.Handler("eventGrid").ExecuteAsync(
            [ActionTestHost.Invocation(Action()), ActionTestHost.Invocation(Action(), message: ActionTestHost.Message(messageId: "msg-2"))],
            CancellationToken.None);

        Assert.Equal(2, results.Count);
        Assert.All(results, error =>
        {
            Assert.NotNull(error);
            Assert.Contains("500", error);
            Assert.Contains("3 attempts", error);
        });
        client.Verify(c => c.SendEventsAsync(It.IsAny<IEnumerable<CloudEvent>>(), It.IsAny<CancellationToken>()), Times.Exactly(3));
    }

    [Fact]
    public async Task ExecuteAsync_503_then_success_is_reported_as_success()
    {
        var client = Client(new Uri(Topic1));
        client.SetupSequence(c => c.SendEventsAsync(It.IsAny<IEnumerable<CloudEvent>>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new RequestFailedException(503, "Server busy"))
            .ReturnsAsync(Mock.Of<Response>());

        var results = await _host.Handler("eventGrid").ExecuteAsync([ActionTestHost.Invocation(Action())], CancellationToken.None);

        Assert.Equal([null], results);
        client.Verify(c => c.SendEventsAsync(It.IsAny<IEnumerable<CloudEvent>>(), It.IsAny<CancellationToken>()), Times.Exactly(2));
    }

    [Fact]
    public async Task ExecuteAsync_403_from_event_grid_fails_without_retry()
    {
        var client = Client(new Uri(Topic1));
        client.Setup(c => c.SendEventsAsync(It.IsAny<IEnumerable<CloudEvent>>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new RequestFailedException(403, "The principal does not have the EventGrid Data Sender role", "Unauthorized", null));

        var results = await _host.Handler("eventGrid").ExecuteAsync([ActionTestHost.Invocation(Action())], CancellationToken.None);

        var error = Assert.Single(results);
        Assert.Contains("403", error);
        Assert.Contains("EventGrid Data Sender", error);
        client.Verify(c => c.SendEventsAsync(It.IsAny<IEnumerable<CloudEvent>>(), It.IsAny<CancellationToken>()), Times.Once);
    }

    [Theory]
    [InlineData("http://farm-topic.westeurope-1.eventgrid.azure.net/api/events", "Farm.Soil", "topicEndpoint:")]
    [InlineData("not a url", "Farm.Soil", "topicEndpoint:")]
    [InlineData(Topic1, "", "type:")]
    [InlineData(Topic1, "Farm.${topic(1)}", "type:")]
    public void Validate_rejects_bad_endpoint_or_type(string endpoint, string type, string field)
    {
        var problem = Assert.Single(_host.Handler("eventGrid").Validate(Action(endpoint, type)));

        Assert.StartsWith(field, problem);
    }

    [Fact]
    public void Validate_accepts_https_topic_endpoint()
        => Assert.Empty(_host.Handler("eventGrid").Validate(Action()));
}
