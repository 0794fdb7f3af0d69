using System.Text;
using IoTServerless.Core.Rules;
using IoTServerless.Testing;

namespace IoTServerless.Core.Tests.Rules.Actions;

public sealed class HttpActionHandlerTests : IAsyncLifetime
{
    readonly ActionTestHost _host = new(maxAttempts: 3);
    TestWebhook _webhook = null!;

    public async Task InitializeAsync() => _webhook = await TestWebhook.StartAsync();

    public async Task DisposeAsync()
    {
        await _webhook.DisposeAsync();
        _host.Dispose();
    }

    RuleAction Action(string path = "/hook", params HttpActionHeader[] headers)
        => new() { Http = new HttpAction { Url = _webhook.Url(path).ToString(), Headers = headers } };

    [Fact]
    public async Task ExecuteAsync_json_output_posts_body_and_idempotency_headers()
    {
        var handler = _host.Handler("http");
        var invocation = ActionTestHost.Invocation(Action("/hook", new HttpActionHeader("x-api-version", "2")), output: """{"moisture":31,"pump":"pump-1"}""");

        var results = await handler.ExecuteAsync([invocation], CancellationToken.None);

        Assert.Equal([null], results);
        var request = Assert.Single(_webhook.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/hook", request.Path);
        Assert.Equal("""{"moisture":31,"pump":"pump-1"}""", Encoding.UTF8.GetString(request.Body));
        Assert.Equal("application/json", request.ContentType);
        Assert.Equal("msg-1", request.Headers["x-iot-message-id"]);
        Assert.Equal("soil_rule", request.Headers["x-iot-rule"]);
        Assert.Equal("2", request.Headers["x-api-version"]);
    }

    [Fact]
    public async Task ExecuteAsync_output_that_is_not_json_is_sent_as_octet_stream()
    {
        var results = await _host.Handler("http").ExecuteAsync([ActionTestHost.Invocation(Action(), output: "not json {")], CancellationToken.None);

        Assert.Equal([null], results);
        Assert.Equal("application/octet-stream", Assert.Single(_webhook.Requests).ContentType);
    }

    [Fact]
    public async Task ExecuteAsync_content_type_header_from_rule_replaces_detected_one()
    {
        var action = Action("/hook", new HttpActionHeader("Content-Type", "application/cloudevents+json"));

        var results = await _host.Handler("http").ExecuteAsync([ActionTestHost.Invocation(action)], CancellationToken.None);

        Assert.Equal([null], results);
        Assert.Equal("application/cloudevents+json", Assert.Single(_webhook.Requests).ContentType);
    }

    [Fact]
    public async Task ExecuteAsync_webhook_returning_500_is_retried_then_reported_as_failed()
    {
        _webhook.Always = 500;

        var results = await _host.Handler("http").ExecuteAsync([ActionTestHost.Invocation(Action())], CancellationToken.None);

        var error = Assert.Single(results);
        Assert.NotNull(error);
        Assert.Contains("500", error);
        Assert.Contains("3 attempts", error);
        Assert.Equal(3, _webhook.Requests.Count);
        Assert.All(_webhook.Requests, r => Assert.Equal("msg-1", r.Headers["x-iot-message-id"]));
    }

    [Fact]
    public async Task ExecuteAsync_503_then_200_succeeds_on_retry()
    {
        _webhook.Respond(503);

        var results = await _host.Handler("http").ExecuteAsync([ActionTestHost.Invocation(Action())], CancellationToken.None);

        Assert.Equal([null], results);
        Assert.Equal(2, _webhook.Requests.Count);
    }

    [Theory]
    [InlineData(408)]
    [InlineData(429)]
    public async Task ExecuteAsync_throttling_or_timeout_status_is_retried(int status)
    {
        _webhook.Respond(status, status);

        var results = await _host.Handler("http").ExecuteAsync([ActionTestHost.Invocation(Action())], CancellationToken.None);

        Assert.Equal([null], results);
        Assert.Equal(3, _webhook.Requests.Count);
    }

    [Fact]
    public async Task ExecuteAsync_400_fails_without_retry()
    {
        _webhook.Respond(400);

        var results = await _host.Handler("http").ExecuteAsync([ActionTestHost.Invocation(Action())], CancellationToken.None);

        Assert.Contains("400", Assert.Single(results));
        Assert.Single(_webhook.Requests);
    }

    [Fact]
    public async Task ExecuteAsync_redirect_is_not_followed()
    {
        _webhook.Respond(302);

        var results = await _host.Handler("http").ExecuteAsync([ActionTestHost.Invocation(Action())], CancellationToken.None);

        Assert.Contains("302", Assert.Single(results));
        Assert.Single(_webhook.Requests);
    }

    [Fact]
    public async Task ExecuteAsync_unreachable_endpoint_is_retried_then_reported()
    {
        var action = new RuleAction { Http = new HttpAction { Url = $"http://127.0.0.1:{FreeTcpPort.Next()}/hook" } };

        var results = await _host.Handler("http").ExecuteAsync([ActionTestHost.Invocation(action)], CancellationToken.None);

        var error = Assert.Single(results);
        Assert.NotNull(error);
        Assert.Contains("request failed", error);
        Assert.Contains("3 attempts", error);
    }

    [Fact]
    public async Task ExecuteAsync_batch_reports_each_invocation_on_its_own()
    {
        _webhook.ByPath["/bad"] = 404;
        var invocations = Enumerable.Range(0, 20)
            .Select(i => ActionTestHost.Invocation(Action(i == 7 ? "/bad" : "/hook"), message: ActionTestHost.Message(messageId: $"m{i}")))
            .ToList();

        var results = await _host.Handler("http").ExecuteAsync(invocations, CancellationToken.None);

        Assert.Equal(20, results.Count);
        Assert.Contains("404", results[7]);
        Assert.All(results.Where((_, i) => i != 7), Assert.Null);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}").Order(), _webhook.Requests.Select(r => r.Headers["x-iot-message-id"]).Order());
    }

    [Fact]
    public async Task ExecuteAsync_message_without_broker_id_carries_the_same_derived_id_on_redelivery()
    {
        var invocation = ActionTestHost.Invocation(Action(), message: ActionTestHost.Message(messageId: null));
        var handler = _host.Handler("http");

        await handler.ExecuteAsync([invocation], CancellationToken.None);
        await handler.ExecuteAsync([invocation with { }], CancellationToken.None);
        await handler.ExecuteAsync([ActionTestHost.Invocation(Action(), message: ActionTestHost.Message(messageId: null, timestamp: 1))], CancellationToken.None);

        var ids = _webhook.Requests.Select(r => r.Headers["x-iot-message-id"]).ToList();
        Assert.Equal(3, ids.Count);
        Assert.False(string.IsNullOrEmpty(ids[0]));
        Assert.Equal(ids[0], ids[1]);
        Assert.NotEqual(ids[0], ids[2]);
    }

    [Theory]
    [InlineData("https://hooks.example.com/ingest")]
    [InlineData("http://localhost:7071/api/ingest")]
    [InlineData("http://127.0.0.1:8080/ingest")]
    [InlineData("http://[::1]:8080/ingest")]
    public void Validate_https_or_loopback_http_url_is_accepted(string url)
        => Assert.Empty(_host.Handler("http").Validate(new RuleAction { Http = new HttpAction { Url = url } }));

    [Theory]
    [InlineData("http://hooks.example.com/ingest", "https")]
    [InlineData("ftp://hooks.example.com/ingest", "https")]
    [InlineData("/relative/path", "absolute")]
    [InlineData("", "required")]
    [InlineData("https://user:secret@hooks.example.com/ingest", "credentials")]
    [InlineData("https://${topic(1)}.example.com/ingest", "host must be literal")]
    public void Validate_rejects_bad_url(string url, string expected)
    {
        var problems = _host.Handler("http").Validate(new RuleAction { Http = new HttpAction { Url = url } });

        var problem = Assert.Single(problems);
        Assert.StartsWith("url:", problem);
        Assert.Contains(expected, problem);
    }

    [Theory]
    [InlineData("bad header", "x", "headers[0].key")]
    [InlineData("Content-Length", "10", "headers[0].key")]
    [InlineData("Connection", "close", "headers[0].key")]
    [InlineData("Transfer-Encoding", "chunked", "headers[0].key")]
    [InlineData("x-iot-message-id", "forged", "headers[0].key")]
    [InlineData("", "x", "headers[0].key")]
    [InlineData("x-ok", "a\r\nInjected: 1", "headers[0].value")]
    public void Validate_rejects_bad_header(string key, string value, string field)
    {
        var action = new RuleAction { Http = new HttpAction { Url = "https://hooks.example.com/", Headers = [new HttpActionHeader(key, value)] } };

        var problem = Assert.Single(_host.Handler("http").Validate(action));

        Assert.StartsWith(field, problem);
    }

    [Fact]
    public void Validate_without_http_settings_names_the_field()
        => Assert.Equal(["http: is required"], _host.Handler("http").Validate(new RuleAction { Queue = new QueueAction { QueueName = "q1-q" } }));

    [Fact]
    public void Resource_leaves_out_query_string_and_credentials()
    {
        var action = new RuleAction { Http = new HttpAction { Url = "https://user:pw@hooks.example.com/services/T0/B0?token=secret" } };

        Assert.Equal("https://hooks.example.com/services/T0/B0", _host.Handler("http").Resource(action));
    }
}
