using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using IoTServerless.Testing;

namespace IoTServerless.Functions.Tests.Policies;

/// <summary>The policy API over real HTTP on the standalone function app, stored in Azurite.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class PoliciesFunctionsTests(AzuriteFixture azurite) : IAsyncLifetime
{
    const string Allow = """{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}""";

    const string DeviceDocument = """
        {"Version":"2012-10-17","Statement":[
          {"Sid":"connect","Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
          {"Sid":"data","Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:*:*:topic/farm/${iot:Connection.Thing.ThingName}/*"},
          {"Sid":"noAdmin","Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/farm/*/admin"}]}
        """;

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

    static string Name() => "p-" + Guid.NewGuid().ToString("N")[..10];

    static StringContent Body(object value) => new(JsonSerializer.Serialize(value), Encoding.UTF8, "application/json");

    static StringContent Raw(string json) => new(json, Encoding.UTF8, "application/json");

    async Task<JsonElement> OkAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        return problem;
    }

    async Task CreateAsync(string name, string document)
    {
        using var response = await _http.PostAsync($"api/policies/{name}", Body(new { policyDocument = document }));
        await OkAsync(response);
    }

    [Fact]
    public async Task CreatePolicy_returnsAwsShape_andGetReturnsIt()
    {
        var name = Name();
        using var created = await _http.PostAsync($"api/policies/{name}", Body(new { policyDocument = Allow }));
        var json = await OkAsync(created);
        Assert.Equal(name, json.GetProperty("policyName").GetString());
        Assert.Equal($"arn:aws:iot:local:000000000000:policy/{name}", json.GetProperty("policyArn").GetString());
        Assert.Equal(Allow, json.GetProperty("policyDocument").GetString());
        Assert.Equal("1", json.GetProperty("policyVersionId").GetString());

        var got = await OkAsync(await _http.GetAsync($"api/policies/{name}"));
        Assert.Equal("1", got.GetProperty("defaultVersionId").GetString());
        Assert.Equal(Allow, got.GetProperty("policyDocument").GetString());
        Assert.True(got.GetProperty("creationDate").GetInt64() > 1_700_000_000);

        await ProblemAsync(await _http.PostAsync($"api/policies/{name}", Body(new { policyDocument = Allow })), HttpStatusCode.Conflict);
        await ProblemAsync(await _http.GetAsync($"api/policies/{Name()}"), HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("""{"policyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:Fly\",\"Resource\":\"*\"}]}"}""", "Statement[0].Action")]
    [InlineData("""{"policyDocument":"{\"Version\":\"2012-10-17\",\n\"Statement\":[}"}""", "line 2, column")]
    [InlineData("""{"policyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"arn:aws:s3:::b\"}}"}""", "Statement.Resource")]
    [InlineData("""{"policyDocument":42}""", "'policyDocument' must be a string")]
    [InlineData("""{}""", "'policyDocument' is required")]
    [InlineData("""not json""", "not valid JSON")]
    [InlineData("""[]""", "must be a JSON object")]
    [InlineData("", "empty")]
    public async Task CreatePolicy_withBadBody_is400NamingTheProblem_andStoresNothing(string body, string detail)
    {
        var name = Name();
        var problem = await ProblemAsync(await _http.PostAsync($"api/policies/{name}", Raw(body)), HttpStatusCode.BadRequest);
        Assert.Contains(detail, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await ProblemAsync(await _http.GetAsync($"api/policies/{name}"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task CreatePolicy_oversizedDocument_is400()
    {
        var resources = string.Join(",", Enumerable.Range(0, 100).Select(i => $"\"arn:aws:iot:*:*:topic/t{i:D4}\""));
        var document = $$"""{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":[{{resources}}]}]}""";
        var problem = await ProblemAsync(await _http.PostAsync($"api/policies/{Name()}", Body(new { policyDocument = document })), HttpStatusCode.BadRequest);
        Assert.Contains("2048", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("MalformedPolicyException", problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task InvalidPolicyName_is400()
    {
        var problem = await ProblemAsync(await _http.PostAsync("api/policies/bad%20name", Body(new { policyDocument = Allow })), HttpStatusCode.BadRequest);
        Assert.Contains("policy name", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Versions_createListGetSetDefaultDelete_andRejectedUpdateChangesNothing()
    {
        var name = Name();
        await CreateAsync(name, Allow);
        var v2 = await OkAsync(await _http.PostAsync($"api/policies/{name}/version?setAsDefault=true", Body(new { policyDocument = DeviceDocument })));
        Assert.Equal("2", v2.GetProperty("policyVersionId").GetString());
        Assert.True(v2.GetProperty("isDefaultVersion").GetBoolean());

        var rejected = await ProblemAsync(await _http.PostAsync($"api/policies/{name}/version?setAsDefault=true", Body(new { policyDocument = """{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"},{"Effect":"Sometimes"}]}""" })), HttpStatusCode.BadRequest);
        Assert.Contains("Statement[1].Effect", rejected.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await ProblemAsync(await _http.PostAsync($"api/policies/{name}/version?setAsDefault=maybe", Body(new { policyDocument = Allow })), HttpStatusCode.BadRequest);

        var policy = await OkAsync(await _http.GetAsync($"api/policies/{name}"));
        Assert.Equal("2", policy.GetProperty("defaultVersionId").GetString());
        Assert.Equal(DeviceDocument, policy.GetProperty("policyDocument").GetString());
        var versions = (await OkAsync(await _http.GetAsync($"api/policies/{name}/version"))).GetProperty("policyVersions");
        Assert.Equal(["1", "2"], versions.EnumerateArray().Select(v => v.GetProperty("versionId").GetString()));
        Assert.Equal([false, true], versions.EnumerateArray().Select(v => v.GetProperty("isDefaultVersion").GetBoolean()));

        await ProblemAsync(await _http.DeleteAsync($"api/policies/{name}/version/2"), HttpStatusCode.Conflict);
        await OkAsync(await _http.PatchAsync($"api/policies/{name}/version/1", null));
        var v1 = await OkAsync(await _http.GetAsync($"api/policies/{name}/version/1"));
        Assert.True(v1.GetProperty("isDefaultVersion").GetBoolean());
        Assert.Equal(Allow, v1.GetProperty("policyDocument").GetString());
        await ProblemAsync(await _http.DeleteAsync($"api/policies/{name}"), HttpStatusCode.Conflict);
        await OkAsync(await _http.DeleteAsync($"api/policies/{name}/version/2"));
        await ProblemAsync(await _http.GetAsync($"api/policies/{name}/version/2"), HttpStatusCode.NotFound);
        await OkAsync(await _http.DeleteAsync($"api/policies/{name}"));
        await ProblemAsync(await _http.GetAsync($"api/policies/{name}"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task VersionsLimit_is409WithItsCode()
    {
        var name = Name();
        await CreateAsync(name, Allow);
        for (var i = 0; i < 4; i++)
        {
            await OkAsync(await _http.PostAsync($"api/policies/{name}/version", Body(new { policyDocument = Allow })));
        }
        var problem = await ProblemAsync(await _http.PostAsync($"api/policies/{name}/version", Body(new { policyDocument = Allow })), HttpStatusCode.Conflict);
        Assert.Equal("VersionsLimitExceededException", problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task ListPolicies_pagesWithMarker()
    {
        var names = Enumerable.Range(0, 3).Select(_ => Name()).ToList();
        foreach (var name in names)
        {
            await CreateAsync(name, Allow);
        }
        var seen = new List<string>();
        string? marker = null;
        do
        {
            var page = await OkAsync(await _http.GetAsync($"api/policies?pageSize=2{(marker is null ? "" : "&marker=" + Uri.EscapeDataString(marker))}"));
            Assert.True(page.GetProperty("policies").GetArrayLength() <= 2);
            seen.AddRange(page.GetProperty("policies").EnumerateArray().Select(p => p.GetProperty("policyName").GetString()!));
            marker = page.GetProperty("nextMarker").GetString();
        }
        while (marker is not null);
        Assert.Superset(names.ToHashSet(), seen.ToHashSet());
        await ProblemAsync(await _http.GetAsync("api/policies?pageSize=0"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task AttachDetach_andListings()
    {
        var name = Name();
        await CreateAsync(name, Allow);
        var group = "group-" + Guid.NewGuid().ToString("N")[..8];
        await OkAsync(await _http.PutAsync($"api/target-policies/{name}", Body(new { target = group })));
        var attached = await OkAsync(await _http.GetAsync($"api/attached-policies?target={group}"));
        Assert.Equal(name, attached.GetProperty("policies").EnumerateArray().Single().GetProperty("policyName").GetString());
        var targets = await OkAsync(await _http.GetAsync($"api/policy-targets/{name}"));
        Assert.Equal($"arn:aws:iot:local:000000000000:thinggroup/{group}", targets.GetProperty("targets").EnumerateArray().Single().GetString());

        var bad = await ProblemAsync(await _http.PutAsync($"api/target-policies/{name}", Body(new { target = "arn:aws:iot:x:y:bucket/b" })), HttpStatusCode.BadRequest);
        Assert.Contains("target", bad.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
        await ProblemAsync(await _http.PutAsync($"api/target-policies/{name}", Body(new { })), HttpStatusCode.BadRequest);
        await ProblemAsync(await _http.PutAsync($"api/target-policies/{Name()}", Body(new { target = group })), HttpStatusCode.NotFound);
        await ProblemAsync(await _http.GetAsync("api/attached-policies"), HttpStatusCode.BadRequest);

        await OkAsync(await _http.PostAsync($"api/target-policies/{name}", Body(new { target = $"arn:aws:iot:us-east-1:1:thinggroup/{group}" })));
        Assert.Equal(0, (await OkAsync(await _http.GetAsync($"api/attached-policies?target={group}"))).GetProperty("policies").GetArrayLength());
        await OkAsync(await _http.DeleteAsync($"api/policies/{name}"));
    }

    [Fact]
    public async Task TestAuthorization_explainsAllowExplicitAndImplicitDeny()
    {
        var device = Name();
        var broad = Name();
        await CreateAsync(device, DeviceDocument);
        await CreateAsync(broad, """{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/farm/*"}]}""");
        var cert = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()) + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        await OkAsync(await _http.PutAsync($"api/target-policies/{broad}", Body(new { target = cert })));

        var request = new
        {
            principal = $"arn:aws:iot:us-east-1:123456789012:cert/{cert}",
            clientId = "sensor-1",
            policyNamesToAdd = new[] { device },
            authInfos = new object[]
            {
                new { actionType = "PUBLISH", resources = new[] { "arn:aws:iot:us-east-1:123456789012:topic/farm/sensor-1/data" } },
                new { actionType = "PUBLISH", resources = new[] { "arn:aws:iot:us-east-1:123456789012:topic/farm/sensor-1/admin" } },
                new { actionType = "SUBSCRIBE", resources = new[] { "arn:aws:iot:us-east-1:123456789012:topicfilter/farm/#" } },
                new { actionType = "CONNECT", resources = new[] { "arn:aws:iot:us-east-1:123456789012:client/sensor-1" } },
            },
            context = new { thing = new { thingName = "sensor-1", thingTypeName = "SoilSensor", attributes = new { farm = "A" } } },
        };
        var results = (await OkAsync(await _http.PostAsync("api/test-authorization", Body(request)))).GetProperty("authResults").EnumerateArray().ToList();
        Assert.Equal(["ALLOWED", "EXPLICIT_DENY", "IMPLICIT_DENY", "ALLOWED"], results.Select(r => r.GetProperty("authDecision").GetString()));

        var allowedBy = results[0].GetProperty("allowed").GetProperty("policies").EnumerateArray().Select(p => p.GetProperty("policyName").GetString()).Order().ToList();
        Assert.Equal(new[] { device, broad }.Order(), allowedBy);
        var deny = results[1].GetProperty("denied").GetProperty("explicitDeny").GetProperty("policies").EnumerateArray().Single();
        Assert.Equal(device, deny.GetProperty("policyName").GetString());
        Assert.Equal("noAdmin", deny.GetProperty("statements").EnumerateArray().Single().GetProperty("sid").GetString());
        Assert.Equal(2, results[2].GetProperty("denied").GetProperty("implicitDeny").GetProperty("policies").GetArrayLength());
        Assert.Equal("PUBLISH", results[0].GetProperty("authInfo").GetProperty("actionType").GetString());

        // Without the thing in the context, the thing variables resolve to nothing.
        var noThing = new { clientId = "sensor-1", policyNamesToAdd = new[] { device }, authInfos = new[] { new { actionType = "CONNECT", resources = new[] { "arn:aws:iot:us-east-1:1:client/sensor-1" } } } };
        var denied = (await OkAsync(await _http.PostAsync("api/test-authorization", Body(noThing)))).GetProperty("authResults")[0];
        Assert.Equal("IMPLICIT_DENY", denied.GetProperty("authDecision").GetString());
    }

    [Theory]
    [InlineData("""{"clientId":"c"}""", "authInfos")]
    [InlineData("""{"authInfos":[{"actionType":"FLY","resources":["arn:aws:iot:*:*:topic/a"]}]}""", "authInfos[0].actionType")]
    [InlineData("""{"authInfos":[{"actionType":"PUBLISH","resources":[]}]}""", "authInfos[0].resources")]
    [InlineData("""{"authInfos":[{"actionType":"PUBLISH","resources":["x"]}],"policyNamesToAdd":"p"}""", "policyNamesToAdd")]
    [InlineData("""{"authInfos":[{"actionType":"PUBLISH","resources":["x"]}],"principal":"nope!"}""", "principal")]
    [InlineData("""{"authInfos":[{"actionType":"PUBLISH","resources":["x"]}],"context":{"thing":{"thingName":1}}}""", "context.thing")]
    public async Task TestAuthorization_badBody_is400NamingTheProblem(string body, string detail)
    {
        var problem = await ProblemAsync(await _http.PostAsync("api/test-authorization", Raw(body)), HttpStatusCode.BadRequest);
        Assert.Contains(detail, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestAuthorization_unknownPolicy_is404()
    {
        var body = new { policyNamesToAdd = new[] { Name() }, authInfos = new[] { new { actionType = "CONNECT", resources = new[] { "arn:aws:iot:*:*:client/c" } } } };
        await ProblemAsync(await _http.PostAsync("api/test-authorization", Body(body)), HttpStatusCode.NotFound);
    }
}
