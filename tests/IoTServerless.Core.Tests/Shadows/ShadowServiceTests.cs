using System.Text;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using IoTServerless.Core.Shadows;
using IoTServerless.Core.Storage;
using IoTServerless.Core.Tests.Storage;
using IoTServerless.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using static IoTServerless.Core.Tests.Shadows.ShadowJsonAssert;

namespace IoTServerless.Core.Tests.Shadows;

/// <summary>The shadow operations on real Table storage (Azurite).</summary>
[Collection(AzuriteCollection.Name)]
public sealed class ShadowServiceTests(AzuriteFixture azurite)
{
    readonly ShadowService _service = NewService(TestTables.Provider(azurite));

    static ShadowService NewService(TableClientProvider tables, ShadowOptions? options = null)
        => new(new ShadowStore(tables), TimeProvider.System, NullLogger<ShadowService>.Instance, Options.Create(options ?? new ShadowOptions()));

    static string NewThing() => "thing-" + Guid.NewGuid().ToString("N")[..12];

    static readonly ReadOnlyMemory<byte> NoBody = ReadOnlyMemory<byte>.Empty;

    Task<ShadowResult> UpdateAsync(string thing, string json, string? shadow = null) => _service.UpdateAsync(thing, shadow, Utf8(json), CancellationToken.None);

    async Task<JsonObject> GetAcceptedAsync(string thing, string? shadow = null)
    {
        var result = await _service.GetAsync(thing, shadow, NoBody, CancellationToken.None);
        Assert.Equal(200, result.StatusCode);
        return Parse(result.Payload);
    }

    static async Task AssertAcceptedAsync(Task<ShadowResult> operation)
    {
        var result = await operation;
        Assert.True(result.Accepted, Encoding.UTF8.GetString(result.Payload));
    }

    [Fact]
    public async Task UpdateAsync_thenGetAsync_returnsTheMergedDocumentWithDelta()
    {
        var thing = NewThing();
        await AssertAcceptedAsync(UpdateAsync(thing, """{"state":{"reported":{"color":"green","temp":20}}}"""));
        var second = await UpdateAsync(thing, """{"state":{"desired":{"color":"red"}},"clientToken":"u-2"}""");

        var document = await GetAcceptedAsync(thing);

        Assert.Equal(200, second.StatusCode);
        Equal("""{"color":"red"}""", Parse(second.Delta)["state"]);
        Assert.Equal(2, (int)Parse(second.Documents)["current"]!["version"]!);
        Equal("""{"desired":{"color":"red"},"reported":{"color":"green","temp":20},"delta":{"color":"red"}}""", document["state"]);
        Assert.Equal(2, (int)document["version"]!);
        Assert.True((long)document["timestamp"]! > 1_600_000_000);
    }

    [Fact]
    public async Task UpdateAsync_afterAnotherInstanceWrote_startsFromTheStoredShadowNotItsOwnLastWrite()
    {
        // Two function instances: each remembers its last write; the table decides.
        var tables = TestTables.Provider(azurite);
        var a = NewService(tables);
        var b = NewService(tables);
        var thing = NewThing();
        Task<ShadowResult> On(ShadowService service, string json) => service.UpdateAsync(thing, null, Utf8(json), CancellationToken.None);
        await AssertAcceptedAsync(On(a, """{"state":{"reported":{"a":1}}}"""));
        await AssertAcceptedAsync(On(b, """{"state":{"reported":{"b":2}}}"""));

        // a remembers version 1; the table holds version 2.
        var versioned = await On(a, """{"state":{"reported":{"c":3}},"version":2}""");
        var stale = await On(a, """{"state":{"reported":{"d":4}},"version":2}""");
        await AssertAcceptedAsync(On(a, """{"state":{"reported":{"e":5}}}"""));

        Assert.True(versioned.Accepted, Encoding.UTF8.GetString(versioned.Payload));
        Assert.Equal(409, stale.StatusCode);
        var document = await GetAcceptedAsync(thing);
        Equal("""{"a":1,"b":2,"c":3,"e":5}""", document["state"]!["reported"]);
        Assert.Equal(4, (int)document["version"]!);
    }

    [Fact]
    public async Task GetAsync_missingClassicShadow_is404NamingTheThingAndEchoesClientToken()
    {
        var thing = NewThing();

        var result = await _service.GetAsync(thing, null, Utf8("""{"clientToken":"g-1"}"""), CancellationToken.None);

        Assert.Equal(404, result.StatusCode);
        var error = Parse(result.Payload);
        Assert.Equal($"No shadow exists with name: '{thing}'", (string?)error["message"]);
        Assert.Equal("g-1", (string?)error["clientToken"]);
        Assert.Equal(404, (int)error["code"]!);
    }

    [Fact]
    public async Task GetAsync_missingNamedShadow_is404NamingTheShadow()
    {
        var thing = NewThing();
        await AssertAcceptedAsync(UpdateAsync(thing, """{"state":{"reported":{"a":1}}}"""));

        var result = await _service.GetAsync(thing, "config", NoBody, CancellationToken.None);

        Assert.Equal(404, result.StatusCode);
        Assert.Equal("No shadow exists with name: 'config'", (string?)Parse(result.Payload)["message"]);
    }

    [Fact]
    public async Task NamedAndClassicShadows_ofOneThing_areIndependent()
    {
        var thing = NewThing();
        await AssertAcceptedAsync(UpdateAsync(thing, """{"state":{"reported":{"where":"classic"}}}"""));
        await AssertAcceptedAsync(UpdateAsync(thing, """{"state":{"reported":{"where":"named"}}}""", "config"));
        await AssertAcceptedAsync(UpdateAsync(thing, """{"state":{"reported":{"where":"named"}}}""", "config"));

        var classic = await GetAcceptedAsync(thing);
        var named = await GetAcceptedAsync(thing, "config");

        Equal("""{"reported":{"where":"classic"}}""", classic["state"]);
        Assert.Equal(1, (int)classic["version"]!);
        Equal("""{"reported":{"where":"named"}}""", named["state"]);
        Assert.Equal(2, (int)named["version"]!);
    }

    [Fact]
    public async Task DeleteAsync_existingShadow_answersItsVersionAndGetIsThen404()
    {
        var thing = NewThing();
        await AssertAcceptedAsync(UpdateAsync(thing, """{"state":{"reported":{"a":1}}}"""));
        await AssertAcceptedAsync(UpdateAsync(thing, """{"state":{"reported":{"a":2}}}"""));

        var deleted = await _service.DeleteAsync(thing, null, Utf8("""{"clientToken":"d-1"}"""), CancellationToken.None);

        Assert.Equal(200, deleted.StatusCode);
        var accepted = Parse(deleted.Payload);
        Assert.Equal(2, (int)accepted["version"]!);
        Assert.Equal("d-1", (string?)accepted["clientToken"]);
        Assert.Equal(404, (await _service.GetAsync(thing, null, NoBody, CancellationToken.None)).StatusCode);
        // After a delete, a get carrying the old version is 404 too (CONTRACT), and so is a second delete.
        Assert.Equal(404, (await _service.GetAsync(thing, null, Utf8("""{"version":2}"""), CancellationToken.None)).StatusCode);
        Assert.Equal(404, (await _service.DeleteAsync(thing, null, NoBody, CancellationToken.None)).StatusCode);
    }

    [Fact]
    public async Task DeleteAsync_missingShadow_is404()
    {
        var result = await _service.DeleteAsync(NewThing(), "nothing", Utf8("""{"clientToken":"x"}"""), CancellationToken.None);

        Assert.Equal(404, result.StatusCode);
        Assert.Equal("x", (string?)Parse(result.Payload)["clientToken"]);
    }

    [Fact]
    public async Task UpdateAsync_afterDelete_recreatesTheShadowContinuingTheVersion()
    {
        var thing = NewThing();
        await AssertAcceptedAsync(UpdateAsync(thing, """{"state":{"desired":{"a":1}}}"""));
        await AssertAcceptedAsync(UpdateAsync(thing, """{"state":{"desired":{"b":1}}}"""));
        await AssertAcceptedAsync(_service.DeleteAsync(thing, null, NoBody, CancellationToken.None));

        var recreated = await UpdateAsync(thing, """{"state":{"reported":{"c":1}}}""");

        Assert.Equal(3, (int)Parse(recreated.Payload)["version"]!);
        var documents = Parse(recreated.Documents);
        Assert.False(documents.ContainsKey("previous"));
        var document = await GetAcceptedAsync(thing);
        Equal("""{"reported":{"c":1}}""", document["state"]);
        Assert.Equal(3, (int)document["version"]!);
    }

    [Fact]
    public async Task UpdateAsync_staleVersion_is409AndTheStoredDocumentIsUnchanged()
    {
        var thing = NewThing();
        await AssertAcceptedAsync(UpdateAsync(thing, """{"state":{"desired":{"colors":["RED","GREEN","BLUE"]}}}"""));
        await AssertAcceptedAsync(UpdateAsync(thing, """{"state":{"reported":{"on":true}}}"""));
        var before = await GetAcceptedAsync(thing);

        var stale = await UpdateAsync(thing, """{"state":{"desired":{"colors":["BLUE"]}},"version":1,"clientToken":"v-1"}""");
        var current = await UpdateAsync(thing, """{"state":{"desired":{"colors":["BLUE"]}},"version":2}""");

        Assert.Equal(409, stale.StatusCode);
        var error = Parse(stale.Payload);
        Assert.Equal("Version conflict", (string?)error["message"]);
        Assert.Equal("v-1", (string?)error["clientToken"]);
        Assert.Null(stale.Delta);
        Assert.Null(stale.Documents);
        Assert.Equal(200, current.StatusCode);
        var after = await GetAcceptedAsync(thing);
        Equal(before["state"]!.ToJsonString().Replace("\"RED\",\"GREEN\",\"BLUE\"", "\"BLUE\"", StringComparison.Ordinal), after["state"]);
        Assert.Equal(3, (int)after["version"]!);
    }

    [Theory]
    [InlineData("{", 400, "Payload contains invalid json")]
    [InlineData("""{"desired":{"a":9}}""", 400, "Missing required node: state")]
    [InlineData("""{"state":[]}""", 400, "State node must be an object")]
    [InlineData("""{"state":{"desired":5}}""", 400, "Desired node must be an object")]
    [InlineData("""{"state":{"reported":"x"}}""", 400, "Reported node must be an object")]
    [InlineData("""{"state":{"reported":{"a":9}},"version":-1}""", 400, "Invalid version")]
    [InlineData("""{"state":{"reported":{"a":9}},"clientToken":1}""", 400, "Invalid clientToken")]
    [InlineData("""{"state":{"reported":{"a":{"b":{"c":{"d":{"e":{"f":9}}}}}}}}""", 400, "JSON contains too many levels of nesting; maximum is 6")]
    public async Task UpdateAsync_malformedRequest_isRefusedAndTheStoredDocumentIsUnchanged(string request, int code, string message)
    {
        var thing = NewThing();
        await AssertAcceptedAsync(UpdateAsync(thing, """{"state":{"reported":{"a":1}}}"""));
        var before = await GetAcceptedAsync(thing);

        var result = await UpdateAsync(thing, request);

        Assert.Equal(code, result.StatusCode);
        Assert.Equal(message, (string?)Parse(result.Payload)["message"]);
        var after = await GetAcceptedAsync(thing);
        Equal(before["state"]!.ToJsonString(), after["state"]);
        Equal(before["metadata"]!.ToJsonString(), after["metadata"]);
        Assert.Equal(1, (int)after["version"]!);
    }

    [Fact]
    public async Task UpdateAsync_oversizedRequestOrState_is413AndTheStoredDocumentIsUnchanged()
    {
        var thing = NewThing();
        var chunk = new string('x', 3000);
        await AssertAcceptedAsync(UpdateAsync(thing, "{\"state\":{\"desired\":{\"a\":\"" + chunk + "\"}}}"));
        await AssertAcceptedAsync(UpdateAsync(thing, "{\"state\":{\"reported\":{\"b\":\"" + chunk + "\"}}}"));

        var tooLargeRequest = await UpdateAsync(thing, "{\"state\":{\"reported\":{\"c\":\"" + new string('y', 9000) + "\"}},\"clientToken\":\"r\"}");
        var tooLargeState = await UpdateAsync(thing, "{\"state\":{\"reported\":{\"c\":\"" + chunk + "\"}},\"clientToken\":\"s\"}");

        Assert.Equal(413, tooLargeRequest.StatusCode);
        Assert.Equal("r", (string?)Parse(tooLargeRequest.Payload)["clientToken"]);
        Assert.Equal(413, tooLargeState.StatusCode);
        Assert.Equal("The payload exceeds the maximum size allowed", (string?)Parse(tooLargeState.Payload)["message"]);
        var after = await GetAcceptedAsync(thing);
        Assert.Equal(2, (int)after["version"]!);
        Equal("{\"desired\":{\"a\":\"" + chunk + "\"},\"reported\":{\"b\":\"" + chunk + "\"},\"delta\":{\"a\":\"" + chunk + "\"}}", after["state"]);
    }

    [Fact]
    public async Task UpdateAsync_invalidNames_are400AndStoreNothing()
    {
        var badThing = await _service.UpdateAsync("bad thing", null, Utf8("""{"state":{},"clientToken":"n"}"""), CancellationToken.None);
        var badShadow = await _service.UpdateAsync(NewThing(), "bad/shadow", Utf8("""{"state":{}}"""), CancellationToken.None);
        var badGet = await _service.GetAsync(new string('a', 129), null, NoBody, CancellationToken.None);

        Assert.Equal(400, badThing.StatusCode);
        Assert.Equal("n", (string?)Parse(badThing.Payload)["clientToken"]);
        Assert.Equal(400, badShadow.StatusCode);
        Assert.Equal(400, badGet.StatusCode);
    }

    [Fact]
    public async Task UpdateAsync_thingNeedNotBeRegistered()
        => await AssertAcceptedAsync(UpdateAsync(NewThing(), """{"state":{"reported":{"a":1}}}"""));

    [Fact]
    public async Task UpdateAsync_fiftyConcurrentUpdatesOfDifferentKeys_allSurviveAndAdvanceTheVersionByFifty()
    {
        var thing = NewThing();
        await AssertAcceptedAsync(UpdateAsync(thing, """{"state":{"reported":{"initial":true}}}"""));
        // Five instances (as five function hosts would be), each within its 10-in-flight limit, all racing on one entity.
        var instances = Enumerable.Range(0, 5).Select(_ => NewService(TestTables.Provider(azurite))).ToArray();

        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Task.Run(() =>
            instances[i % instances.Length].UpdateAsync(thing, null, Utf8("{\"state\":{\"reported\":{\"key" + i + "\":" + i + "}}}"), CancellationToken.None))));

        Assert.All(results, r => Assert.Equal(200, r.StatusCode));
        var versions = results.Select(r => (long)Parse(r.Payload)["version"]!).Order().ToArray();
        Assert.Equal(Enumerable.Range(2, 50).Select(v => (long)v), versions);
        var document = await GetAcceptedAsync(thing);
        Assert.Equal(51, (int)document["version"]!);
        var reported = document["state"]!["reported"]!.AsObject();
        Assert.Equal(51, reported.Count);
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(i, (int)reported[$"key{i}"]!);
        }
    }

    [Fact]
    public async Task UpdateAsync_concurrentUpdatesInOneProcess_takeTurnsAndAllSurvive()
    {
        var thing = NewThing();
        var service = NewService(TestTables.Provider(azurite), new ShadowOptions { MaxInFlightPerThing = 40 });

        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(() =>
            service.UpdateAsync(thing, "one", Utf8("{\"state\":{\"desired\":{\"k" + i + "\":" + i + "}}}"), CancellationToken.None))));

        Assert.All(results, r => Assert.Equal(200, r.StatusCode));
        Assert.Equal(Enumerable.Range(1, 40).Select(v => (long)v), results.Select(r => (long)Parse(r.Payload)["version"]!).Order());
        var document = await service.GetAsync(thing, "one", NoBody, CancellationToken.None);
        Assert.Equal(40, Parse(document.Payload)["state"]!["desired"]!.AsObject().Count);
    }

    /// <summary>A table proxy before whose first write another writer updates <paramref name="thing"/> with <paramref name="rivalUpdate"/>.</summary>
    async Task<InterceptingTableProxy> RivalWritesOnceAsync(string thing, string rivalUpdate)
    {
        var rivalDone = false;
        var proxy = await InterceptingTableProxy.StartAsync(azurite.TablePort);
        proxy.BeforeWrite = async _ =>
        {
            if (!rivalDone)
            {
                rivalDone = true;
                await AssertAcceptedAsync(UpdateAsync(thing, rivalUpdate));
            }
        };
        return proxy;
    }

    [Fact]
    public async Task UpdateAsync_rivalWritesBetweenReadAndWrite_isAppliedAgainOnTheNewDocument()
    {
        var thing = NewThing();
        await AssertAcceptedAsync(UpdateAsync(thing, """{"state":{"reported":{"a":1}}}"""));
        await using var proxy = await RivalWritesOnceAsync(thing, """{"state":{"reported":{"rival":true}}}""");
        var raced = NewService(ProxiedTables(proxy));

        var result = await raced.UpdateAsync(thing, null, Utf8("""{"state":{"reported":{"mine":true}}}"""), CancellationToken.None);

        Assert.Equal(200, result.StatusCode);
        Assert.Equal(3, (int)Parse(result.Payload)["version"]!);
        Equal("""{"reported":{"a":1,"rival":true,"mine":true}}""", (await GetAcceptedAsync(thing))["state"]);
    }

    [Fact]
    public async Task UpdateAsync_withVersion_rivalWritesBetweenReadAndWrite_is409AndTheRivalsDocumentStays()
    {
        var thing = NewThing();
        await AssertAcceptedAsync(UpdateAsync(thing, """{"state":{"reported":{"a":1}}}"""));
        await using var proxy = await RivalWritesOnceAsync(thing, """{"state":{"reported":{"a":2}}}""");
        var raced = NewService(ProxiedTables(proxy));

        var result = await raced.UpdateAsync(thing, null, Utf8("""{"state":{"reported":{"a":3}},"version":1,"clientToken":"late"}"""), CancellationToken.None);

        Assert.Equal(409, result.StatusCode);
        Assert.Equal("late", (string?)Parse(result.Payload)["clientToken"]);
        var document = await GetAcceptedAsync(thing);
        Equal("""{"reported":{"a":2}}""", document["state"]);
        Assert.Equal(2, (int)document["version"]!);
    }

    [Fact]
    public async Task Requests_moreThanTenInFlightForOneThing_are429AndOtherThingsAreUnaffected()
    {
        var thing = NewThing();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiting = 0;
        await using var proxy = await InterceptingTableProxy.StartAsync(azurite.TablePort);
        proxy.BeforeWrite = async _ =>
        {
            Interlocked.Increment(ref waiting);
            await release.Task;
        };
        var held = NewService(ProxiedTables(proxy));
        await held.GetAsync(thing, null, NoBody, CancellationToken.None); // creates the table before writes are held

        var inFlight = Enumerable.Range(0, 10)
            .Select(i => held.UpdateAsync(thing, $"s{i}", Utf8("""{"state":{"reported":{"a":1}}}"""), CancellationToken.None))
            .ToArray();
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(Volatile.Read(ref waiting) == 10), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(20)));

        var eleventh = await held.UpdateAsync(thing, "s10", Utf8("""{"state":{"reported":{"a":1}},"clientToken":"busy"}"""), CancellationToken.None);
        var otherThingGet = await held.GetAsync(NewThing(), null, NoBody, CancellationToken.None);
        release.SetResult();
        var results = await Task.WhenAll(inFlight);

        Assert.Equal(429, eleventh.StatusCode);
        Assert.Equal("busy", (string?)Parse(eleventh.Payload)["clientToken"]);
        Assert.Equal(404, otherThingGet.StatusCode);
        Assert.All(results, r => Assert.Equal(200, r.StatusCode));
        Assert.Equal(200, (await held.UpdateAsync(thing, "s10", Utf8("""{"state":{"reported":{"a":1}}}"""), CancellationToken.None)).StatusCode);
    }

    [Fact]
    public async Task Operations_onCorruptStoredShadow_are500DocumentsNotExceptions()
    {
        var thing = NewThing();
        var table = await TestTables.Provider(azurite).GetTableAsync(TableNames.Shadows, CancellationToken.None);
        await table.AddEntityAsync(new TableEntity(thing, ShadowStore.ClassicRowKey) { ["State"] = "{not json", ["Metadata"] = "{}", ["Version"] = 3L, ["Deleted"] = false });

        var get = await _service.GetAsync(thing, null, Utf8("""{"clientToken":"c"}"""), CancellationToken.None);
        var update = await UpdateAsync(thing, """{"state":{"reported":{"a":1}}}""");

        Assert.Equal(500, get.StatusCode);
        Equal("\"Internal service failure\"", Parse(get.Payload)["message"]);
        Assert.Equal("c", (string?)Parse(get.Payload)["clientToken"]);
        Assert.Equal(500, update.StatusCode);
    }

    [Fact]
    public async Task ListNamedAsync_pagesThroughExistingNamedShadowsOnly()
    {
        var thing = NewThing();
        string[] names = ["alpha", "$package", "beta", "delta", "epsilon", "gamma", "zeta"];
        foreach (var name in names)
        {
            await AssertAcceptedAsync(UpdateAsync(thing, """{"state":{"reported":{"a":1}}}""", name));
        }
        await AssertAcceptedAsync(UpdateAsync(thing, """{"state":{"reported":{"classic":1}}}"""));
        await AssertAcceptedAsync(UpdateAsync(thing, """{"state":{"reported":{"a":1}}}""", "removed"));
        await AssertAcceptedAsync(_service.DeleteAsync(thing, "removed", NoBody, CancellationToken.None));
        await AssertAcceptedAsync(UpdateAsync(NewThing(), """{"state":{"reported":{"a":1}}}""", "other-things-shadow"));

        var listed = new List<string>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = await _service.ListNamedAsync(thing, token, 3, CancellationToken.None);
            Assert.Equal(200, page.StatusCode);
            var payload = Parse(page.Payload);
            Assert.Equal(page.Results, payload["results"]!.AsArray().Select(n => (string)n!));
            Assert.Equal(page.NextToken, (string?)payload["nextToken"]);
            Assert.True((long)payload["timestamp"]! > 1_600_000_000);
            Assert.True(page.Results.Count <= 3);
            listed.AddRange(page.Results);
            token = page.NextToken;
            pages++;
        }
        while (token is not null && pages < 10);

        Assert.Null(token);
        Assert.Equal(names.Order(StringComparer.Ordinal), listed);
        Assert.True(pages >= 3);
    }

    [Fact]
    public async Task ListNamedAsync_thingWithoutNamedShadows_isAnEmptyLastPage()
    {
        var thing = NewThing();
        await AssertAcceptedAsync(UpdateAsync(thing, """{"state":{"reported":{"a":1}}}"""));

        var page = await _service.ListNamedAsync(thing, null, null, CancellationToken.None);

        Assert.Equal(200, page.StatusCode);
        Assert.Empty(page.Results);
        Assert.Null(page.NextToken);
        var payload = Parse(page.Payload);
        Assert.Empty(payload["results"]!.AsArray());
        Assert.False(payload.ContainsKey("nextToken"));
    }

    [Theory]
    [InlineData("bad thing", null, null)]
    [InlineData("thing", "not-a-token", null)]
    [InlineData("thing", null, 0)]
    [InlineData("thing", null, 101)]
    public async Task ListNamedAsync_invalidRequest_is400Document(string thing, string? token, int? pageSize)
    {
        var page = await _service.ListNamedAsync(thing, token, pageSize, CancellationToken.None);

        Assert.Equal(400, page.StatusCode);
        Assert.Equal(400, (int)Parse(page.Payload)["code"]!);
        Assert.Empty(page.Results);
    }

    [Fact]
    public async Task ListNamedAsync_tokenOfAnotherThing_is400()
    {
        var thing = NewThing();
        foreach (var name in new[] { "a", "b", "c" })
        {
            await AssertAcceptedAsync(UpdateAsync(thing, """{"state":{}}""", name));
        }
        var first = await _service.ListNamedAsync(thing, null, 1, CancellationToken.None);
        Assert.NotNull(first.NextToken);

        var replayed = await _service.ListNamedAsync(NewThing(), first.NextToken, 1, CancellationToken.None);

        Assert.Equal(400, replayed.StatusCode);
    }

    TableClientProvider ProxiedTables(InterceptingTableProxy proxy)
        => new(Options.Create(new TableStorageOptions { ConnectionString = proxy.ConnectionString(azurite.ConnectionString, azurite.TablePort) }));
}
