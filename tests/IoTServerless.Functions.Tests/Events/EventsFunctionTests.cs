using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using IoTServerless.Core.Events;
using IoTServerless.Testing;

namespace IoTServerless.Functions.Tests.Events;

/// <summary>The events webhook over real HTTP, applying to real Table storage (Azurite).</summary>
[Collection(AzuriteCollection.Name)]
public sealed class EventsFunctionTests(AzuriteFixture azurite) : IAsyncLifetime
{
    TestFunctionApp _app = null!;
    HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _app = await TestFunctionApp.StartAsync(azurite.ConnectionString);
        _http = _app.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.DisposeAsync();
    }

    static string Thing() => "thing-" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>A new thing registered through the API: presence is recorded for registered things only.</summary>
    async Task<string> RegisteredThingAsync()
    {
        var thing = Thing();
        using var response = await _http.PostAsync($"api/things/{thing}", new StringContent("{}", Encoding.UTF8, "application/json"));
        response.EnsureSuccessStatusCode();
        return thing;
    }

    static JsonObject PresenceMessage(string clientId, string eventType, long timestamp, long version = 1, string? reason = null)
    {
        var payload = new JsonObject
        {
            ["clientId"] = clientId,
            ["timestamp"] = timestamp,
            ["eventType"] = eventType,
            ["sessionIdentifier"] = "s-1",
            ["principalIdentifier"] = new string('a', 64),
            ["versionNumber"] = version,
        };
        if (reason is not null)
        {
            payload["disconnectReason"] = reason;
        }
        return new JsonObject
        {
            ["id"] = Guid.NewGuid().ToString(),
            ["topic"] = $"$aws/events/presence/{eventType}/{clientId}",
            ["payload"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(payload.ToJsonString())),
            ["qos"] = 1,
            ["timestamp"] = timestamp,
        };
    }

    static JsonObject BatchEvent(string id, params JsonObject[] messages) => new()
    {
        ["specversion"] = "1.0",
        ["id"] = id,
        ["source"] = EventTypes.BrokerSource,
        ["type"] = EventTypes.MessageBatch,
        ["datacontenttype"] = "application/json",
        ["data"] = new JsonObject { ["messages"] = new JsonArray(messages) },
    };

    Task<HttpResponseMessage> PostAsync(string body)
        => _http.PostAsync("api/events", new StringContent(body, Encoding.UTF8, "application/cloudevents-batch+json"));

    async Task<JsonElement?> ConnectivityAsync(string thing)
    {
        using var response = await _http.GetAsync($"api/things/{thing}");
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("connectivity");
    }

    [Fact]
    public async Task Options_answersTheCloudEventsWebhookHandshake()
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, "api/events");
        request.Headers.Add("WebHook-Request-Origin", "eventgrid.azure.net");
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("eventgrid.azure.net", response.Headers.GetValues("WebHook-Allowed-Origin").Single());
    }

    [Fact]
    public async Task SubscriptionValidationEvent_isAnsweredWithItsCode()
    {
        const string body = """
            [{"id":"2d1781af-3a4c-4d7c-bd0c-e34b19da4e66","topic":"/subscriptions/x","subject":"","data":{"validationCode":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6","validationUrl":"https://example.invalid"},"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2026-11-28T10:00:00Z","metadataVersion":"1","dataVersion":"1"}]
            """;
        using var response = await _http.PostAsync("api/events", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("512d38b6-c7b8-40c8-89fe-f46f9e9622b6", json.GetProperty("validationResponse").GetString());
    }

    [Fact]
    public async Task PresenceEvents_recordConnectivity_andRedeliveryIsIgnored()
    {
        var thing = await RegisteredThingAsync();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var id = Guid.NewGuid().ToString();
        var body = new JsonArray(BatchEvent(id, PresenceMessage(thing, "connected", now))).ToJsonString();

        using var first = await PostAsync(body);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var connectivity = await ConnectivityAsync(thing);
        Assert.True(connectivity!.Value.GetProperty("connected").GetBoolean());
        Assert.Equal(now, connectivity.Value.GetProperty("timestamp").GetInt64());

        using var again = await PostAsync(body);
        var result = await again.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1, result.GetProperty("duplicates").GetInt32());
        Assert.Equal(0, result.GetProperty("applied").GetInt32());
    }

    [Fact]
    public async Task OlderEvent_arrivingLate_doesNotMoveConnectivityBack()
    {
        var thing = await RegisteredThingAsync();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        using var disconnected = await PostAsync(new JsonArray(BatchEvent(Guid.NewGuid().ToString(), PresenceMessage(thing, "disconnected", now, 1, "CONNECTION_LOST"))).ToJsonString());
        using var lateConnected = await PostAsync(new JsonArray(BatchEvent(Guid.NewGuid().ToString(), PresenceMessage(thing, "connected", now - 5_000))).ToJsonString());
        Assert.Equal(HttpStatusCode.OK, lateConnected.StatusCode);

        var connectivity = await ConnectivityAsync(thing);
        Assert.False(connectivity!.Value.GetProperty("connected").GetBoolean());
        Assert.Equal("CONNECTION_LOST", connectivity.Value.GetProperty("disconnectReason").GetString());
    }

    [Theory]
    [InlineData("this is not json")]
    [InlineData("{}")]
    [InlineData("[]")]
    [InlineData("42")]
    [InlineData("[{\"specversion\":\"1.0\"}]")]
    [InlineData("[{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"/s\",\"type\":\"IoTServerless.Broker.MessageBatch\",\"data\":{\"messages\":[{\"id\":\"m\"}]}}]")]
    [InlineData("[{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"/s\",\"type\":\"IoTServerless.Broker.MessageBatch\",\"data\":\"nope\"}]")]
    public async Task GarbageBody_is400WithProblemDetails(string body)
    {
        using var response = await PostAsync(body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(400, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
    }

    [Fact]
    public async Task BatchWithOneBadEvent_isRejectedWhole_andNothingIsApplied()
    {
        var thing = await RegisteredThingAsync();
        var good = BatchEvent(Guid.NewGuid().ToString(), PresenceMessage(thing, "connected", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        var bad = BatchEvent(Guid.NewGuid().ToString());
        bad["data"] = new JsonObject { ["messages"] = new JsonArray(new JsonObject { ["topic"] = "x" }) };

        using var response = await PostAsync(new JsonArray(good, bad).ToJsonString());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var connectivity = await ConnectivityAsync(thing);
        Assert.False(connectivity!.Value.GetProperty("connected").GetBoolean());
        Assert.Equal(0, connectivity.Value.GetProperty("timestamp").GetInt64());
    }

    [Fact]
    public async Task UnknownEventType_isAcknowledgedAndIgnored()
    {
        var unknown = new JsonObject { ["specversion"] = "1.0", ["id"] = Guid.NewGuid().ToString(), ["source"] = "/elsewhere", ["type"] = "Some.Other.Event", ["data"] = new JsonObject() };
        using var response = await PostAsync(new JsonArray(unknown).ToJsonString());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ignored").GetInt32());
    }

    [Fact]
    public async Task PresenceEventPublishedByADevice_isNotApplied()
    {
        var thing = await RegisteredThingAsync();
        var forged = PresenceMessage(thing, "connected", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        forged["clientId"] = "mallory";
        using var response = await PostAsync(new JsonArray(BatchEvent(Guid.NewGuid().ToString(), forged)).ToJsonString());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var connectivity = await ConnectivityAsync(thing);
        Assert.False(connectivity!.Value.GetProperty("connected").GetBoolean());
        Assert.Equal(0, connectivity.Value.GetProperty("timestamp").GetInt64());
    }

    [Fact]
    public async Task PresenceEventsOfAnUnregisteredClient_areAcknowledgedButCreateNoThing()
    {
        var clientId = Thing();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var body = new JsonArray(BatchEvent(Guid.NewGuid().ToString(),
            PresenceMessage(clientId, "connected", now),
            PresenceMessage(clientId, "disconnected", now + 1, 1, "CLIENT_INITIATED_DISCONNECT"))).ToJsonString();

        using var response = await PostAsync(body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("applied").GetInt32());
        Assert.Null(await ConnectivityAsync(clientId));
    }

    [Fact]
    public async Task Post_withoutFunctionKey_is401()
    {
        using var anonymous = new HttpClient { BaseAddress = _app.BaseUrl };
        using var response = await anonymous.PostAsync("api/events", new StringContent("[]"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
