using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using IoTServerless.Device.Shadows;

namespace IoTServerless.Device.Tests.Shadows;

/// <summary>The shadow client over the real mutual-TLS test broker, against a scripted shadow service.</summary>
public sealed class ShadowClientTests : IAsyncLifetime
{
    const string Thing = "device-001";
    const string Classic = "$aws/things/device-001/shadow";
    static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    static readonly long Now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    readonly TestPki _pki = new(Thing);
    TestBroker _broker = null!;
    DeviceClient _device = null!;
    ScriptedShadowService _service = null!;

    public async Task InitializeAsync()
    {
        _broker = new TestBroker(_pki.ServerCertificate, _pki.Ca);
        await _broker.StartAsync();
        _device = new DeviceClient(_pki.DeviceOptions(_broker.Port));
        await _device.ConnectAsync(CancellationToken.None);
        _service = await ScriptedShadowService.StartAsync(_pki, _broker.Port);
    }

    public async Task DisposeAsync()
    {
        await _service.DisposeAsync();
        await _device.DisposeAsync();
        await _broker.DisposeAsync();
        _pki.Dispose();
    }

    [Fact]
    public async Task StartAsync_subscribes_each_response_topic_without_wildcards()
    {
        var shadow = new ShadowClient(_device, Thing);

        await shadow.StartAsync(CancellationToken.None);

        Assert.Equal(
            [
                $"{Classic}/get/accepted", $"{Classic}/get/rejected",
                $"{Classic}/update/accepted", $"{Classic}/update/rejected",
                $"{Classic}/delete/accepted", $"{Classic}/delete/rejected",
                $"{Classic}/update/delta",
            ],
            shadow.ResponseTopics);
        Assert.DoesNotContain(shadow.ResponseTopics, t => t.Contains('+') || t.Contains('#'));
    }

    [Fact]
    public async Task GetAsync_shadow_exists_returns_document_with_delta()
    {
        var shadow = await StartShadowAsync();

        var getting = shadow.GetAsync(CancellationToken.None);
        var request = await _service.NextRequestAsync(Wait);
        Assert.Equal($"{Classic}/get", request.Topic);
        Assert.InRange(Encoding.UTF8.GetByteCount(request.ClientToken!), 1, ShadowClient.MaxClientTokenBytes);
        await _service.AcceptAsync(request, Json($$$"""
            {"state":{"desired":{"pump":"ON","runSeconds":300},"reported":{"pump":"OFF"},"delta":{"pump":"ON","runSeconds":300}},
             "metadata":{"desired":{"pump":{"timestamp":{{{Now}}} } } },"version":7,"timestamp":{{{Now}}}}
            """));
        var document = await getting.WaitAsync(Wait);

        Assert.Equal("""{"pump":"ON","runSeconds":300}""", document.Desired!.ToJsonString());
        Assert.Equal("""{"pump":"OFF"}""", document.Reported!.ToJsonString());
        Assert.Equal("""{"pump":"ON","runSeconds":300}""", document.Delta!.ToJsonString());
        Assert.Equal(7, document.Version);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(Now), document.Timestamp);
        Assert.NotNull(document.Metadata);
        Assert.Null(document.Desired.Parent);
        Assert.Equal(0, shadow.PendingRequests);
    }

    [Fact]
    public async Task GetAsync_shadow_in_sync_has_no_delta()
    {
        var shadow = await StartShadowAsync();
        _service.Responder = r => _service.AcceptAsync(r, Json($$$"""{"state":{"reported":{"pump":"OFF"}},"version":2,"timestamp":{{{Now}}}}"""));

        var document = await shadow.GetAsync(CancellationToken.None).WaitAsync(Wait);

        Assert.Null(document.Desired);
        Assert.Null(document.Delta);
        Assert.Equal("""{"pump":"OFF"}""", document.Reported!.ToJsonString());
    }

    [Fact]
    public async Task UpdateAsync_accepted_returns_echoed_state_and_version()
    {
        var shadow = await StartShadowAsync();
        var state = Json("""{"desired":{"pump":"ON"},"reported":{"pump":"OFF","onUntil":null}}""");

        var updating = shadow.UpdateAsync(state, expectedVersion: 7, CancellationToken.None);
        var request = await _service.NextRequestAsync(Wait);
        Assert.Equal($"{Classic}/update", request.Topic);
        Assert.Equal("""{"desired":{"pump":"ON"},"reported":{"pump":"OFF","onUntil":null}}""", request.Body["state"]!.ToJsonString());
        Assert.Equal(7, request.Body["version"]!.GetValue<long>());
        await _service.AcceptAsync(request, new JsonObject
        {
            ["state"] = request.Body["state"]!.DeepClone(),
            ["metadata"] = Json($$$"""{"desired":{"pump":{"timestamp":{{{Now}}} } } }"""),
            ["version"] = 8,
            ["timestamp"] = Now,
        });
        var result = await updating.WaitAsync(Wait);

        Assert.Equal(8, result.Version);
        Assert.Equal("""{"desired":{"pump":"ON"},"reported":{"pump":"OFF","onUntil":null}}""", result.State.ToJsonString());
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(Now), result.Timestamp);
        Assert.Null(state.Parent); // the caller's object was copied, not moved into the request
    }

    [Fact]
    public async Task ReportAsync_sends_only_the_reported_section_without_version()
    {
        var shadow = await StartShadowAsync();

        var reporting = shadow.ReportAsync(Json("""{"pump":"ON","onUntil":1764340200}"""), CancellationToken.None);
        var request = await _service.NextRequestAsync(Wait);
        await _service.AcceptAsync(request, Json($$$"""{"state":{"reported":{"pump":"ON","onUntil":1764340200}},"version":3,"timestamp":{{{Now}}}}"""));
        var result = await reporting.WaitAsync(Wait);

        Assert.Equal("""{"reported":{"pump":"ON","onUntil":1764340200}}""", request.Body["state"]!.ToJsonString());
        Assert.False(request.Body.ContainsKey("version"));
        Assert.Equal(3, result.Version);
    }

    [Fact]
    public async Task UpdateAsync_version_conflict_throws_ShadowRejectedException_with_409()
    {
        var shadow = await StartShadowAsync();
        _service.Responder = r => _service.RejectAsync(r, 409, "Version conflict");

        var thrown = await Assert.ThrowsAsync<ShadowRejectedException>(
            () => shadow.UpdateAsync(Json("""{"reported":{"pump":"OFF"}}"""), expectedVersion: 3, CancellationToken.None).WaitAsync(Wait));

        Assert.Equal(409, thrown.Code);
        Assert.Equal("Version conflict", thrown.ErrorMessage);
        Assert.Equal(0, shadow.PendingRequests);
    }

    [Fact]
    public async Task GetAsync_no_shadow_throws_ShadowRejectedException_with_404()
    {
        var shadow = await StartShadowAsync();
        _service.Responder = r => _service.RejectAsync(r, 404, "No shadow exists with name: 'device-001'");

        var thrown = await Assert.ThrowsAsync<ShadowRejectedException>(() => shadow.GetAsync(CancellationToken.None).WaitAsync(Wait));

        Assert.Equal(404, thrown.Code);
    }

    [Fact]
    public async Task GetAsync_responses_with_foreign_clientToken_are_ignored_and_own_completes()
    {
        var shadow = await StartShadowAsync();

        var getting = shadow.GetAsync(CancellationToken.None);
        var request = await _service.NextRequestAsync(Wait);
        // Another requester's answers on the shared topics: accepted and rejected, and one without a token.
        await _service.AcceptAsync(request, Json($$$"""{"state":{"reported":{"pump":"ON"}},"version":99,"timestamp":{{{Now}}},"clientToken":"someone-else"}"""));
        await _service.RejectAsync(request, 404, "not yours", clientToken: "someone-else");
        await _service.PublishAsync($"{Classic}/get/accepted", $$$"""{"state":{},"version":98,"timestamp":{{{Now}}}}""");
        await _service.PublishAsync($"{Classic}/get/accepted", "not json");
        await WaitUntilAsync(() => shadow.IgnoredResponses == 4);
        Assert.False(getting.IsCompleted);
        await _service.AcceptAsync(request, Json($$$"""{"state":{"reported":{"pump":"OFF"}},"version":5,"timestamp":{{{Now}}}}"""));

        var document = await getting.WaitAsync(Wait);
        Assert.Equal(5, document.Version);
        Assert.Equal("""{"pump":"OFF"}""", document.Reported!.ToJsonString());
    }

    [Fact]
    public async Task GetAsync_accepted_for_another_operation_with_same_token_is_ignored()
    {
        var shadow = await StartShadowAsync();

        var getting = shadow.GetAsync(CancellationToken.None);
        var request = await _service.NextRequestAsync(Wait);
        await _service.PublishAsync($"{Classic}/update/accepted", $$$"""{"state":{},"version":1,"timestamp":{{{Now}}},"clientToken":"{{{request.ClientToken}}}"}""");
        await WaitUntilAsync(() => shadow.IgnoredResponses == 1);
        await _service.AcceptAsync(request, Json($$$"""{"state":{},"version":2,"timestamp":{{{Now}}}}"""));

        Assert.Equal(2, (await getting.WaitAsync(Wait)).Version);
    }

    [Fact]
    public async Task GetAsync_nobody_answers_throws_TimeoutException()
    {
        var shadow = new ShadowClient(_device, Thing, requestTimeout: TimeSpan.FromMilliseconds(300));
        await shadow.StartAsync(CancellationToken.None);

        var started = DateTime.UtcNow;
        await Assert.ThrowsAsync<TimeoutException>(() => shadow.GetAsync(CancellationToken.None).WaitAsync(Wait));

        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(3));
        Assert.Equal(0, shadow.PendingRequests);
        Assert.True(_device.IsConnected);
    }

    [Fact]
    public async Task GetAsync_cancelled_throws_OperationCanceledException_not_timeout()
    {
        var shadow = await StartShadowAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        var thrown = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => shadow.GetAsync(cancel.Token).WaitAsync(Wait));

        Assert.Equal(cancel.Token, thrown.CancellationToken);
        Assert.Equal(0, shadow.PendingRequests);
    }

    [Fact]
    public async Task GetAsync_before_StartAsync_throws_InvalidOperationException()
    {
        var shadow = new ShadowClient(_device, Thing);

        await Assert.ThrowsAsync<InvalidOperationException>(() => shadow.GetAsync(CancellationToken.None));
    }

    [Fact]
    public async Task DeleteAsync_accepted_completes()
    {
        var shadow = await StartShadowAsync();
        ShadowRequest? seen = null;
        _service.Responder = r =>
        {
            seen = r;
            return _service.AcceptAsync(r, Json($$$"""{"version":9,"timestamp":{{{Now}}}}"""));
        };

        await shadow.DeleteAsync(CancellationToken.None).WaitAsync(Wait);

        Assert.Equal($"{Classic}/delete", seen!.Topic);
        Assert.Equal(["clientToken"], seen.Body.Select(p => p.Key));
    }

    [Fact]
    public async Task Requests_concurrent_answered_in_reverse_order_each_completes_with_its_own_response()
    {
        var shadow = await StartShadowAsync();
        const int count = 10;

        var updates = Enumerable.Range(1, count)
            .Select(i => shadow.UpdateAsync(new JsonObject { ["reported"] = new JsonObject { ["n"] = i } }, null, CancellationToken.None))
            .ToList();
        var requests = new List<ShadowRequest>();
        for (var i = 0; i < count; i++)
        {
            requests.Add(await _service.NextRequestAsync(Wait));
        }
        Assert.Equal(count, requests.Select(r => r.ClientToken).Distinct().Count());
        requests.Reverse();
        foreach (var request in requests)
        {
            var n = request.Body["state"]!["reported"]!["n"]!.GetValue<int>();
            await _service.AcceptAsync(request, new JsonObject { ["state"] = request.Body["state"]!.DeepClone(), ["version"] = 100 + n, ["timestamp"] = Now });
        }

        var results = await Task.WhenAll(updates).WaitAsync(Wait);
        for (var i = 0; i < count; i++)
        {
            Assert.Equal(101 + i, results[i].Version);
            Assert.Equal(i + 1, results[i].State["reported"]!["n"]!.GetValue<int>());
        }
        Assert.Equal(0, shadow.IgnoredResponses);
    }

    [Fact]
    public async Task DeltaReceived_update_delta_raises_event_with_state_and_version()
    {
        var shadow = await StartShadowAsync();
        var received = new TaskCompletionSource<ShadowDeltaEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        shadow.DeltaReceived += (_, e) => received.TrySetResult(e);

        await _service.PublishAsync($"{Classic}/update/delta", $$$"""
            {"version":12,"timestamp":{{{Now}}},"state":{"pump":"ON","runSeconds":120},"metadata":{"pump":{"timestamp":{{{Now}}} } } }
            """);

        var delta = await received.Task.WaitAsync(Wait);
        Assert.Equal("""{"pump":"ON","runSeconds":120}""", delta.State.ToJsonString());
        Assert.Equal(12, delta.Version);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(Now), delta.Timestamp);
        Assert.NotNull(delta.Metadata);
        Assert.Equal(1, shadow.DeltasReceived);
    }

    [Fact]
    public async Task DeltaReceived_malformed_deltas_are_counted_and_later_deltas_still_arrive()
    {
        var shadow = await StartShadowAsync();
        var versions = new ConcurrentQueue<long>();
        shadow.DeltaReceived += (_, e) => versions.Enqueue(e.Version);

        await _service.PublishAsync($"{Classic}/update/delta", "not json {");
        await _service.PublishAsync($"{Classic}/update/delta", "[1,2]");
        await _service.PublishAsync($"{Classic}/update/delta", $$$"""{"version":3,"timestamp":{{{Now}}},"state":"ON"}""");
        await _service.PublishAsync($"{Classic}/update/delta", $$$"""{"timestamp":{{{Now}}},"state":{"pump":"ON"}}""");
        await _service.PublishAsync($"{Classic}/update/delta", $$$"""{"version":"4","timestamp":{{{Now}}},"state":{"pump":"ON"}}""");
        await _service.PublishAsync($"{Classic}/update/delta", $$$"""{"version":5,"timestamp":{{{Now}}},"state":{"pump":"OFF"}}""");

        await WaitUntilAsync(() => versions.Count == 1);
        Assert.Equal([5L], versions);
        Assert.Equal(5, shadow.MalformedDeltas);
        Assert.Equal(1, shadow.DeltasReceived);
        Assert.Equal(0, _device.HandlerFailures);
        Assert.True(_device.IsConnected);
    }

    [Fact]
    public async Task DeltaReceived_handler_throws_HandlerFailed_raised_and_other_handlers_and_later_deltas_run()
    {
        var shadow = await StartShadowAsync();
        var failures = new ConcurrentQueue<DeviceHandlerFailedEventArgs>();
        var versions = new ConcurrentQueue<long>();
        shadow.HandlerFailed += (_, e) => failures.Enqueue(e);
        shadow.DeltaReceived += (_, e) => throw new InvalidOperationException($"bad handler {e.Version}");
        shadow.DeltaReceived += (_, e) => versions.Enqueue(e.Version);

        await _service.PublishAsync($"{Classic}/update/delta", $$$"""{"version":1,"timestamp":{{{Now}}},"state":{"pump":"ON"}}""");
        await _service.PublishAsync($"{Classic}/update/delta", $$$"""{"version":2,"timestamp":{{{Now}}},"state":{"pump":"OFF"}}""");

        await WaitUntilAsync(() => versions.Count == 2);
        Assert.Equal([1L, 2L], versions);
        Assert.Equal(2, shadow.HandlerFailures);
        Assert.All(failures, f => Assert.Equal($"{Classic}/update/delta", f.Topic));
        Assert.IsType<InvalidOperationException>(failures.First().Exception);
        Assert.Equal(0, _device.HandlerFailures);
    }

    [Fact]
    public async Task NamedShadow_uses_the_name_topics_and_ignores_the_classic_ones()
    {
        const string named = "$aws/things/device-001/shadow/name/irrigation";
        var shadow = new ShadowClient(_device, Thing, "irrigation");
        await shadow.StartAsync(CancellationToken.None);
        var deltas = new ConcurrentQueue<ShadowDeltaEventArgs>();
        shadow.DeltaReceived += (_, e) => deltas.Enqueue(e);

        var getting = shadow.GetAsync(CancellationToken.None);
        var request = await _service.NextRequestAsync(Wait);
        Assert.Equal($"{named}/get", request.Topic);
        // The classic shadow's answer with the same token is not this shadow's.
        await _service.PublishAsync($"{Classic}/get/accepted", $$$"""{"state":{},"version":1,"timestamp":{{{Now}}},"clientToken":"{{{request.ClientToken}}}"}""");
        await _service.PublishAsync($"{Classic}/update/delta", $$$"""{"version":1,"timestamp":{{{Now}}},"state":{"pump":"ON"}}""");
        await _service.AcceptAsync(request, Json($$$"""{"state":{"desired":{"zone":2}},"version":4,"timestamp":{{{Now}}}}"""));
        await _service.PublishAsync($"{named}/update/delta", $$$"""{"version":5,"timestamp":{{{Now}}},"state":{"zone":3}}""");

        var document = await getting.WaitAsync(Wait);
        Assert.Equal(4, document.Version);
        await WaitUntilAsync(() => deltas.Count == 1);
        Assert.Equal("""{"zone":3}""", Assert.Single(deltas).State.ToJsonString());
        Assert.Equal(named, shadow.TopicPrefix);
        Assert.All(shadow.ResponseTopics, t => Assert.StartsWith(named + "/", t, StringComparison.Ordinal));

        var updating = shadow.ReportAsync(Json("""{"zone":3}"""), CancellationToken.None);
        var update = await _service.NextRequestAsync(Wait);
        Assert.Equal($"{named}/update", update.Topic);
        await _service.AcceptAsync(update, Json($$$"""{"state":{"reported":{"zone":3}},"version":6,"timestamp":{{{Now}}}}"""));
        Assert.Equal(6, (await updating.WaitAsync(Wait)).Version);
    }

    [Fact]
    public async Task StartAsync_subscriptions_survive_a_broker_restart()
    {
        var shadow = await StartShadowAsync();
        var reconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _device.Connected += (_, e) =>
        {
            if (e.IsReconnect)
            {
                reconnected.TrySetResult();
            }
        };

        await _service.DisposeAsync();
        await _broker.StopAsync();
        await _broker.StartAsync(); // a new server: no sessions, no subscriptions
        await reconnected.Task.WaitAsync(Wait);
        _service = await ScriptedShadowService.StartAsync(_pki, _broker.Port);
        _service.Responder = r => _service.AcceptAsync(r, Json($$$"""{"state":{"reported":{"pump":"OFF"}},"version":1,"timestamp":{{{Now}}}}"""));

        var document = await shadow.GetAsync(CancellationToken.None).WaitAsync(Wait);
        Assert.Equal(1, document.Version);
    }

    [Theory]
    [InlineData("", null)]
    [InlineData("bad/thing", null)]
    [InlineData("pump+1", null)]
    [InlineData("$aws", null)]
    [InlineData("device-001", "")]
    [InlineData("device-001", "a/b")]
    [InlineData("device-001", "#")]
    public void Constructor_invalid_thing_or_shadow_name_throws(string thing, string? shadowName)
        => Assert.ThrowsAny<ArgumentException>(() => new ShadowClient(_device, thing, shadowName));

    [Fact]
    public void Constructor_names_with_allowed_characters_build_the_topics()
    {
        Assert.Equal("$aws/things/a:b_c-1/shadow", new ShadowClient(_device, "a:b_c-1").TopicPrefix);
        Assert.Equal("$aws/things/t/shadow/name/$config:v_1-x", new ShadowClient(_device, "t", "$config:v_1-x").TopicPrefix);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ShadowClient(_device, "t", requestTimeout: TimeSpan.Zero));
    }

    async Task<ShadowClient> StartShadowAsync()
    {
        var shadow = new ShadowClient(_device, Thing);
        await shadow.StartAsync(CancellationToken.None);
        return shadow;
    }

    static JsonObject Json(string json) => JsonNode.Parse(json)!.AsObject();

    static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for the condition");
            await Task.Delay(20);
        }
    }
}
