using System.Text;
using Azure.Messaging;
using Azure.Messaging.EventGrid;
using Azure.Storage.Blobs;
using IoTServerless.Core.Rules;
using IoTServerless.Core.Rules.Actions;
using IoTServerless.Testing;
using Microsoft.Extensions.DependencyInjection;
using Moq;

namespace IoTServerless.Core.Tests.Rules.Actions;

/// <summary>The templated fields (http url and header values, eventGrid subject, blob name) rendered with the rule SQL's substitution templates.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class ActionTemplateTests(AzuriteFixture azurite) : IAsyncLifetime
{
    TestWebhook _webhook = null!;
    ActionTestHost _host = null!;

    public async Task InitializeAsync()
    {
        _webhook = await TestWebhook.StartAsync();
        _host = new ActionTestHost(new Dictionary<string, string?> { ["Storage:ConnectionString"] = azurite.ConnectionString });
    }

    public async Task DisposeAsync()
    {
        await _webhook.DisposeAsync();
        _host.Dispose();
    }

    [Fact]
    public async Task Http_ExecuteAsync_renders_templated_url_and_header_values_per_message()
    {
        var action = new RuleAction
        {
            Http = new HttpAction
            {
                Url = _webhook.BaseUrl + "devices/${topic(2)}?rule=${'soil'}",
                Headers = [new HttpActionHeader("x-device", "${clientid()}"), new HttpActionHeader("x-moisture", "${moisture}"), new HttpActionHeader("x-static", "plain")],
            },
        };
        var handler = _host.Handler("http");
        Assert.Empty(handler.Validate(action));

        var results = await handler.ExecuteAsync(
            [ActionTestHost.Invocation(action), ActionTestHost.Invocation(action, message: ActionTestHost.Message(topic: "farm/pump-2/telemetry", clientId: "pump-2", messageId: "msg-2"))],
            CancellationToken.None);

        Assert.Equal([null, null], results);
        var requests = _webhook.Requests.OrderBy(r => r.Path, StringComparer.Ordinal).ToList();
        Assert.Equal(["/devices/pump-1", "/devices/pump-2"], requests.Select(r => r.Path));
        Assert.All(requests, r => Assert.Equal("?rule=soil", r.Query));
        Assert.Equal(["pump-1", "pump-2"], requests.Select(r => r.Headers["x-device"]));
        Assert.All(requests, r => Assert.Equal("31", r.Headers["x-moisture"]));
        Assert.All(requests, r => Assert.Equal("plain", r.Headers["x-static"]));
    }

    [Theory]
    [InlineData("https://hooks.example.com/${topic(}", "url:")]
    [InlineData("https://hooks.example.com/${", "url:")]
    public void Http_Validate_rejects_url_template_that_does_not_compile(string url, string field)
    {
        var problem = Assert.Single(_host.Handler("http").Validate(new RuleAction { Http = new HttpAction { Url = url } }));

        Assert.StartsWith(field, problem);
        Assert.Contains("template", problem);
    }

    [Fact]
    public void Http_Validate_rejects_header_template_that_does_not_compile()
    {
        var action = new RuleAction { Http = new HttpAction { Url = "https://hooks.example.com/", Headers = [new HttpActionHeader("x-device", "${clientid(}")] } };

        var problem = Assert.Single(_host.Handler("http").Validate(action));

        Assert.StartsWith("headers[0].value:", problem);
    }

    [Fact]
    public async Task Blob_ExecuteAsync_renders_blob_name_and_redelivery_rewrites_the_same_blob()
    {
        var container = $"rules-{Guid.NewGuid():N}"[..30];
        var action = new RuleAction { Blob = new BlobAction { ContainerName = container, BlobName = "${topic()}/${clientid()}-${timestamp()}.json" } };
        var handler = _host.Handler("blob");
        Assert.Empty(handler.Validate(action));
        var invocation = ActionTestHost.Invocation(action);

        Assert.Equal([null], await handler.ExecuteAsync([invocation], CancellationToken.None));
        Assert.Equal([null], await handler.ExecuteAsync([invocation], CancellationToken.None));

        var names = new List<string>();
        await foreach (var item in new BlobContainerClient(azurite.ConnectionString, container).GetBlobsAsync())
        {
            names.Add(item.Name);
        }
        Assert.Equal(["farm/pump-1/telemetry/pump-1-1760000000123.json"], names);
    }

    [Fact]
    public void Blob_Validate_rejects_blob_name_template_that_does_not_compile()
    {
        var problem = Assert.Single(_host.Handler("blob").Validate(new RuleAction { Blob = new BlobAction { ContainerName = "readings", BlobName = "${topic(}/x.json" } }));

        Assert.StartsWith("blobName:", problem);
    }

    [Fact]
    public async Task EventGrid_ExecuteAsync_renders_subject_template()
    {
        var sent = new List<CloudEvent>();
        var client = new Mock<EventGridPublisherClient>();
        client.Setup(c => c.SendEventsAsync(It.IsAny<IEnumerable<CloudEvent>>(), It.IsAny<CancellationToken>()))
            .Callback((IEnumerable<CloudEvent> events, CancellationToken _) => sent.AddRange(events))
            .ReturnsAsync(Mock.Of<Azure.Response>());
        var factory = new Mock<IEventGridPublisherFactory>();
        factory.Setup(f => f.GetClient(It.IsAny<Uri>())).Returns(client.Object);
        using var host = new ActionTestHost(configure: services => services.AddSingleton(factory.Object));
        var action = new RuleAction { EventGrid = new EventGridAction { TopicEndpoint = "https://farm.westeurope-1.eventgrid.azure.net/api/events", Subject = "devices/${clientid()}/soil" } };
        var handler = host.Handler("eventGrid");
        Assert.Empty(handler.Validate(action));

        var results = await handler.ExecuteAsync([ActionTestHost.Invocation(action)], CancellationToken.None);

        Assert.Equal([null], results);
        Assert.Equal("devices/pump-1/soil", Assert.Single(sent).Subject);
        Assert.Equal("IoTServerless.Rules.Message", sent[0].Type);
    }

    [Fact]
    public void EventGrid_Validate_rejects_subject_template_that_does_not_compile()
    {
        var action = new RuleAction { EventGrid = new EventGridAction { TopicEndpoint = "https://farm.westeurope-1.eventgrid.azure.net/api/events", Subject = "${clientid(" } };

        Assert.StartsWith("subject:", Assert.Single(_host.Handler("eventGrid").Validate(action)));
    }

    [Fact]
    public async Task Http_ExecuteAsync_rendered_header_value_with_line_break_fails_without_sending()
    {
        var action = new RuleAction { Http = new HttpAction { Url = _webhook.Url().ToString(), Headers = [new HttpActionHeader("x-note", "${note}")] } };
        var invocation = ActionTestHost.Invocation(action, message: ActionTestHost.Message() with { Payload = Encoding.UTF8.GetBytes("{\"note\":\"a\\r\\nInjected: 1\"}") });

        var results = await _host.Handler("http").ExecuteAsync([invocation], CancellationToken.None);

        Assert.Contains("line break", Assert.Single(results));
        Assert.Empty(_webhook.Requests);
    }
}
