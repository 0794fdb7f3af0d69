using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace IoTServerless.EndToEnd.Tests.Shadows;

/// <summary>
/// Device shadows through the whole stack over real TLS: device → broker → events → functions →
/// Table storage (Azurite) → responses published back through the broker.
/// </summary>
[Collection(LocalStackCollection.Name)]
public sealed class ShadowTests(LocalStack stack)
{
    static string NewThing(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..24];

    static JsonObject Obj(string json) => JsonNode.Parse(json)!.AsObject();

    /// <summary><c>{"state":{"reported":{key: value}}}</c>.</summary>
    static JsonObject Reported(string key, JsonNode value) => new() { ["state"] = new JsonObject { ["reported"] = new JsonObject { [key] = value } } };

    static bool Same(JsonNode? expected, JsonNode? actual) => JsonNode.DeepEquals(expected, actual);

    [Fact]
    public async Task Update_fromDevice_publishesAcceptedDeltaAndDocuments()
    {
        var thing = NewThing("sh-upd");
        await using var device = await ShadowDevice.ConnectAsync(stack, thing);

        var (accepted, body) = await device.RequestAsync("update", Obj("""{"state":{"desired":{"pump":"ON","zone":{"valve":3}},"reported":{"pump":"OFF"}}}"""));

        Assert.True(accepted, body.ToJsonString());
        Assert.Equal(1, body["version"]!.GetValue<long>());
        Assert.True(Same(Obj("""{"desired":{"pump":"ON","zone":{"valve":3}},"reported":{"pump":"OFF"}}"""), body["state"]));
        Assert.NotNull(body["metadata"]!["desired"]!["zone"]!["valve"]!["timestamp"]);
        var delta = await device.NextAsync("update/delta");
        Assert.True(Same(Obj("""{"pump":"ON","zone":{"valve":3}}"""), delta["state"]), delta.ToJsonString());
        Assert.Equal(1, delta["version"]!.GetValue<long>());
        var documents = await device.NextAsync("update/documents");
        Assert.True(Same(Obj("""{"pump":"OFF"}"""), documents["current"]!["state"]!["reported"]));
        Assert.Equal(1, documents["current"]!["version"]!.GetValue<long>());
    }

    [Fact]
    public async Task Get_whenDesiredDiffersFromReported_acceptedCarriesTheDelta()
    {
        var thing = NewThing("sh-get");
        await using var device = await ShadowDevice.ConnectAsync(stack, thing);
        Assert.True((await device.RequestAsync("update", Obj("""{"state":{"desired":{"pump":"ON","rate":5},"reported":{"pump":"OFF","rate":5}}}"""))).Accepted);

        var (accepted, body) = await device.RequestAsync("get", []);

        Assert.True(accepted, body.ToJsonString());
        Assert.True(Same(Obj("""{"pump":"ON"}"""), body["state"]!["delta"]), body.ToJsonString());
        Assert.Equal(1, body["version"]!.GetValue<long>());
    }

    [Fact]
    public async Task Delete_isAccepted_thenGetIs404_andARecreatedShadowContinuesTheVersion()
    {
        var thing = NewThing("sh-del");
        await using var device = await ShadowDevice.ConnectAsync(stack, thing);
        Assert.True((await device.RequestAsync("update", Obj("""{"state":{"reported":{"a":1}}}"""))).Accepted);
        Assert.True((await device.RequestAsync("update", Obj("""{"state":{"reported":{"a":2}}}"""))).Accepted);

        var (deleted, deleteBody) = await device.RequestAsync("delete", []);
        var (found, getBody) = await device.RequestAsync("get", []);
        var (_, recreated) = await device.RequestAsync("update", Obj("""{"state":{"reported":{"a":3}}}"""));

        Assert.True(deleted, deleteBody.ToJsonString());
        Assert.Equal(2, deleteBody["version"]!.GetValue<long>());
        Assert.False(found);
        Assert.Equal(404, getBody["code"]!.GetValue<int>());
        Assert.Equal(3, recreated["version"]!.GetValue<long>());
    }

    [Fact]
    public async Task NamedShadow_usesItsOwnTopicsAndDocument_andIsListedOverHttp()
    {
        var thing = NewThing("sh-named");
        await using var classic = await ShadowDevice.ConnectAsync(stack, thing);
        await using var irrigation = await ShadowDevice.ConnectAsync(stack, thing, shadowName: "irrigation", clientId: thing + "-app");

        Assert.True((await irrigation.RequestAsync("update", Obj("""{"state":{"reported":{"valve":"open"}}}"""))).Accepted);
        Assert.True((await classic.RequestAsync("update", Obj("""{"state":{"reported":{"battery":80}}}"""))).Accepted);
        var (_, namedGet) = await irrigation.RequestAsync("get", []);
        var (_, classicGet) = await classic.RequestAsync("get", []);

        Assert.StartsWith($"$aws/things/{thing}/shadow/name/irrigation", irrigation.Prefix, StringComparison.Ordinal);
        Assert.True(Same(Obj("""{"valve":"open"}"""), namedGet["state"]!["reported"]));
        Assert.True(Same(Obj("""{"battery":80}"""), classicGet["state"]!["reported"]));
        Assert.Equal(1, namedGet["version"]!.GetValue<long>());
        using var http = stack.Functions.CreateClient();
        var list = await http.GetFromJsonAsync<JsonObject>($"api/things/{thing}/shadows");
        Assert.Equal(["irrigation"], list!["results"]!.AsArray().Select(n => n!.GetValue<string>()));
        var viaHttp = await http.GetFromJsonAsync<JsonObject>($"api/things/{thing}/shadow?name=irrigation");
        Assert.True(Same(Obj("""{"valve":"open"}"""), viaHttp!["state"]!["reported"]));
    }

    [Fact]
    public async Task Update_withAStaleVersion_is409OnUpdateRejected_andNothingChanges()
    {
        var thing = NewThing("sh-ver");
        await using var device = await ShadowDevice.ConnectAsync(stack, thing);
        Assert.True((await device.RequestAsync("update", Obj("""{"state":{"reported":{"a":1}}}"""))).Accepted);
        Assert.True((await device.RequestAsync("update", Obj("""{"state":{"reported":{"a":2}},"version":1}"""))).Accepted);

        var (accepted, body) = await device.RequestAsync("update", Obj("""{"state":{"reported":{"a":99}},"version":1}"""));

        Assert.False(accepted);
        Assert.Equal(409, body["code"]!.GetValue<int>());
        var (_, current) = await device.RequestAsync("get", []);
        Assert.Equal(2, current["state"]!["reported"]!["a"]!.GetValue<int>());
        Assert.Equal(2, current["version"]!.GetValue<long>());
    }

    [Fact]
    public async Task Update_oversizedOrMalformed_isRejectedWithTheContractCode_andNothingChanges()
    {
        var thing = NewThing("sh-bad");
        await using var device = await ShadowDevice.ConnectAsync(stack, thing);
        Assert.True((await device.RequestAsync("update", Obj("""{"state":{"reported":{"a":1}}}"""))).Accepted);

        var (bigAccepted, big) = await device.RequestAsync("update", Reported("blob", new string('x', 9000)));
        var (wrongAccepted, wrong) = await device.RequestAsync("update", Obj("""{"state":{"reported":"not an object"}}"""));
        // Not JSON at all: there is no client token to correlate, so read the rejection directly.
        await device.PublishAsync("update", "{not json");
        var invalid = await device.NextAsync("update/rejected");

        Assert.False(bigAccepted);
        Assert.Equal(413, big["code"]!.GetValue<int>());
        Assert.False(wrongAccepted);
        Assert.Equal(400, wrong["code"]!.GetValue<int>());
        Assert.Equal(400, invalid["code"]!.GetValue<int>());
        var (_, current) = await device.RequestAsync("get", []);
        Assert.True(Same(Obj("""{"a":1}"""), current["state"]!["reported"]));
        Assert.Equal(1, current["version"]!.GetValue<long>());
    }

    [Fact]
    public async Task Response_reachesARequesterSubscribedOnlyToTheTopicItNeeds()
    {
        var thing = NewThing("sh-narrow");
        await using var device = await ShadowDevice.ConnectAsync(stack, thing, responses: ["update/accepted"]);

        var (accepted, body) = await device.RequestAsync("update", Obj("""{"state":{"reported":{"ok":true}}}"""));

        Assert.True(accepted, body.ToJsonString());
    }

    [Fact]
    public async Task DesiredSetOverHttpWhileOffline_deviceConnects_getsTheDelta_reports_andTheDeltaDisappears()
    {
        var thing = NewThing("sh-offline");
        using var http = stack.Functions.CreateClient();
        using (var set = await http.PostAsync($"api/things/{thing}/shadow", new StringContent("""{"state":{"desired":{"pump":"ON"}}}""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        }

        await using var device = await ShadowDevice.ConnectAsync(stack, thing);
        var (_, got) = await device.RequestAsync("get", []);
        Assert.True(Same(Obj("""{"pump":"ON"}"""), got["state"]!["delta"]), got.ToJsonString());
        var (reported, _) = await device.RequestAsync("update", Obj("""{"state":{"reported":{"pump":"ON"}}}"""));

        Assert.True(reported);
        var shadow = await http.GetFromJsonAsync<JsonObject>($"api/things/{thing}/shadow");
        Assert.Null(shadow!["state"]!["delta"]);
        Assert.Equal("ON", shadow["state"]!["reported"]!["pump"]!.GetValue<string>());
    }

    [Fact]
    public async Task HttpUpdate_publishesDeltaAndDocumentsToTheDevice()
    {
        var thing = NewThing("sh-http");
        await using var device = await ShadowDevice.ConnectAsync(stack, thing);
        using var http = stack.Functions.CreateClient();

        using var response = await http.PostAsync($"api/things/{thing}/shadow", new StringContent("""{"state":{"desired":{"pump":"OFF"}}}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(Same(Obj("""{"pump":"OFF"}"""), (await device.NextAsync("update/delta"))["state"]));
        Assert.Equal(1, (await device.NextAsync("update/documents"))["current"]!["version"]!.GetValue<long>());
    }

    [Fact]
    public async Task Http_malformedBody_is400ProblemWithTheShadowErrorCode_andMissingShadowIs404()
    {
        var thing = NewThing("sh-http-bad");
        using var http = stack.Functions.CreateClient();

        using var bad = await http.PostAsync($"api/things/{thing}/shadow?name=irrigation", new StringContent("{oops", Encoding.UTF8, "application/json"));
        using var missing = await http.GetAsync($"api/things/{thing}/shadow");

        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
        Assert.Equal(400, (await bad.Content.ReadFromJsonAsync<JsonObject>())!["code"]!.GetValue<int>());
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal(404, (await missing.Content.ReadFromJsonAsync<JsonObject>())!["code"]!.GetValue<int>());
    }

    [Fact]
    public async Task FiftyConcurrentHttpUpdates_toDifferentKeys_allSurvive_andTheVersionAdvancesByFifty()
    {
        var thing = NewThing("sh-race");
        using var http = stack.Functions.CreateClient();

        // As an AWS SDK does, a throttled request (429: over 10 in flight for the thing) is sent again.
        var statuses = await Task.WhenAll(Enumerable.Range(0, 50).Select(async i =>
        {
            while (true)
            {
                using var response = await http.PostAsync($"api/things/{thing}/shadow",
                    new StringContent(Reported($"k{i}", i).ToJsonString(), Encoding.UTF8, "application/json"));
                if (response.StatusCode != HttpStatusCode.TooManyRequests)
                {
                    return response.StatusCode;
                }
                await Task.Delay(Random.Shared.Next(20, 100));
            }
        }));

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        var shadow = await http.GetFromJsonAsync<JsonObject>($"api/things/{thing}/shadow");
        Assert.Equal(50, shadow!["state"]!["reported"]!.AsObject().Count);
        Assert.Equal(50, shadow["version"]!.GetValue<long>());
    }
}
