using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using IoTServerless.Testing;

namespace IoTServerless.Functions.Tests.Rules;

/// <summary>The topic rule API over real HTTP on the standalone function app, stored in Azurite.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class RulesFunctionsTests(AzuriteFixture azurite) : IAsyncLifetime
{
    const string SoilTelemetry = """
        {"sql":"SELECT temperature, humidity, ph, timestamp() AS ts, topic(3) AS sensorId FROM 'farmA/sensor/+/data'",
         "description":"soil readings to a table",
         "actions":[{"table":{"tableName":"IoTSensorData","partitionKey":"${topic(3)}"}}],
         "errorAction":{"republish":{"topic":"farmA/errors","qos":1}}}
        """;

    TestFunctionApp _app = null!;
    HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _app = await TestFunctionApp.StartAsync(azurite.ConnectionString, settings: new Dictionary<string, string?>
        {
            ["Rules:TableName"] = "Rules" + Guid.NewGuid().ToString("N")[..12],
        });
        _http = _app.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.DisposeAsync();
    }

    static StringContent Raw(string json) => new(json, Encoding.UTF8, "application/json");

    static async Task<JsonElement> OkAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        return problem;
    }

    [Fact]
    public async Task CreateTopicRule_thenGetTopicRule_returnsTheAwsShape()
    {
        await OkAsync(await _http.PostAsync("api/rules/SoilTelemetry", Raw(SoilTelemetry)));

        var got = await OkAsync(await _http.GetAsync("api/rules/SoilTelemetry"));
        Assert.Equal("arn:aws:iot:local:000000000000:rule/SoilTelemetry", got.GetProperty("ruleArn").GetString());
        var rule = got.GetProperty("rule");
        Assert.Equal("SoilTelemetry", rule.GetProperty("ruleName").GetString());
        Assert.StartsWith("SELECT temperature", rule.GetProperty("sql").GetString());
        Assert.Equal("soil readings to a table", rule.GetProperty("description").GetString());
        Assert.True(rule.GetProperty("createdAt").GetInt64() > 1_700_000_000);
        Assert.False(rule.GetProperty("ruleDisabled").GetBoolean());
        Assert.Equal("2016-03-23", rule.GetProperty("awsIotSqlVersion").GetString());
        var action = Assert.Single(rule.GetProperty("actions").EnumerateArray());
        Assert.Equal(["table"], action.EnumerateObject().Select(p => p.Name)); // one key per action, as AWS
        Assert.Equal("${topic(3)}", action.GetProperty("table").GetProperty("partitionKey").GetString());
        Assert.Equal("${timestamp()}", action.GetProperty("table").GetProperty("rowKey").GetString());
        Assert.Equal("farmA/errors", rule.GetProperty("errorAction").GetProperty("republish").GetProperty("topic").GetString());
    }

    [Fact]
    public async Task CreateTopicRule_twice_is409()
    {
        await OkAsync(await _http.PostAsync("api/rules/Dup", Raw(SoilTelemetry)));
        var problem = await ProblemAsync(await _http.PostAsync("api/rules/Dup", Raw(SoilTelemetry)), HttpStatusCode.Conflict);
        Assert.Equal("ResourceAlreadyExistsException", problem.GetProperty("code").GetString());
    }

    [Fact]
    public async Task CreateTopicRule_badSql_is400WithLineAndColumn()
    {
        var body = """{"sql":"SELECT temperature\nFROM 'a/b' WHERE temperature >","actions":[{"republish":{"topic":"x/y"}}]}""";
        var problem = await ProblemAsync(await _http.PostAsync("api/rules/BadSql", Raw(body)), HttpStatusCode.BadRequest);
        Assert.Equal("SqlParseException", problem.GetProperty("code").GetString());
        Assert.Equal(2, problem.GetProperty("line").GetInt32());
        Assert.True(problem.GetProperty("column").GetInt32() >= 1);
        Assert.Contains("line 2", problem.GetProperty("detail").GetString());
        await ProblemAsync(await _http.GetAsync("api/rules/BadSql"), HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("{\"sql\":")]
    [InlineData("[1,2]")]
    [InlineData("")]
    public async Task CreateTopicRule_badJson_is400Problem(string body)
    {
        var problem = await ProblemAsync(await _http.PostAsync("api/rules/BadJson", Raw(body)), HttpStatusCode.BadRequest);
        Assert.Equal("InvalidRequestException", problem.GetProperty("code").GetString());
    }

    [Fact]
    public async Task CreateTopicRule_invalidRule_is400ListingEveryProblemByField()
    {
        var actions = string.Join(",", Enumerable.Range(0, 11).Select(_ => """{"republish":{"topic":"a/b"}}"""));
        var body = """{"sql":"SELECT * FROM 'a/b'","awsIotSqlVersion":"2015-10-08","actions":[""" + actions + """],"errorAction":{"lambda":{"functionArn":"x"}}}""";
        var problem = await ProblemAsync(await _http.PostAsync("api/rules/Invalid", Raw(body)), HttpStatusCode.BadRequest);
        var problems = problem.GetProperty("problems").EnumerateArray().Select(p => p.GetString()!).ToList();
        Assert.Contains(problems, p => p.StartsWith("errorAction: unknown action kind 'lambda'", StringComparison.Ordinal));

        var valid = string.Join(",", Enumerable.Range(0, 11).Select(_ => """{"republish":{"topic":"a/b"}}"""));
        var second = await ProblemAsync(await _http.PostAsync("api/rules/Invalid", Raw("""{"sql":"SELECT * FROM 'a/b'","awsIotSqlVersion":"2015-10-08","actions":[""" + valid + "]}")), HttpStatusCode.BadRequest);
        var secondProblems = second.GetProperty("problems").EnumerateArray().Select(p => p.GetString()!).ToList();
        Assert.Contains(secondProblems, p => p.StartsWith("awsIotSqlVersion", StringComparison.Ordinal));
        Assert.Contains(secondProblems, p => p.StartsWith("actions: a rule has 1 to 10 actions", StringComparison.Ordinal));
        await ProblemAsync(await _http.GetAsync("api/rules/Invalid"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task ReplaceTopicRule_replaces_andAMissingRuleIs404()
    {
        await OkAsync(await _http.PostAsync("api/rules/Swap", Raw(SoilTelemetry)));
        var replacement = """{"sql":"SELECT * FROM 'farmB/#' WHERE humidity < 35","actions":[{"republish":{"topic":"$$aws/things/pump/shadow/update","qos":1}}]}""";
        await OkAsync(await _http.PatchAsync("api/rules/Swap", Raw(replacement)));

        var rule = (await OkAsync(await _http.GetAsync("api/rules/Swap"))).GetProperty("rule");
        Assert.Equal("SELECT * FROM 'farmB/#' WHERE humidity < 35", rule.GetProperty("sql").GetString());
        Assert.False(rule.TryGetProperty("errorAction", out _));
        Assert.Equal("$$aws/things/pump/shadow/update", rule.GetProperty("actions")[0].GetProperty("republish").GetProperty("topic").GetString());

        await ProblemAsync(await _http.PatchAsync("api/rules/NotThere", Raw(replacement)), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task ListTopicRules_pagesAndFiltersByTopicAndDisabled()
    {
        for (var i = 0; i < 3; i++)
        {
            await OkAsync(await _http.PostAsync($"api/rules/List{i}", Raw(SoilTelemetry)));
        }
        await OkAsync(await _http.PostAsync("api/rules/ListOther", Raw("""{"sql":"SELECT * FROM 'other/#'","ruleDisabled":true,"actions":[{"republish":{"topic":"a/b"}}]}""")));

        var first = await OkAsync(await _http.GetAsync("api/rules?topic=farmA/sensor/%2B/data&maxResults=2"));
        var names = first.GetProperty("rules").EnumerateArray().Select(r => r.GetProperty("ruleName").GetString()).ToList();
        Assert.Equal(2, names.Count);
        var item = first.GetProperty("rules")[0];
        Assert.Equal("farmA/sensor/+/data", item.GetProperty("topicPattern").GetString());
        Assert.StartsWith("arn:aws:iot:", item.GetProperty("ruleArn").GetString());
        Assert.True(item.GetProperty("createdAt").GetInt64() > 0);
        var token = first.GetProperty("nextToken").GetString();
        var second = await OkAsync(await _http.GetAsync($"api/rules?topic=farmA/sensor/%2B/data&maxResults=2&nextToken={Uri.EscapeDataString(token!)}"));
        names.AddRange(second.GetProperty("rules").EnumerateArray().Select(r => r.GetProperty("ruleName").GetString()));
        Assert.Equal(["List0", "List1", "List2"], names);

        var disabled = await OkAsync(await _http.GetAsync("api/rules?ruleDisabled=true"));
        var only = Assert.Single(disabled.GetProperty("rules").EnumerateArray());
        Assert.Equal("ListOther", only.GetProperty("ruleName").GetString());
        Assert.True(only.GetProperty("ruleDisabled").GetBoolean());

        await ProblemAsync(await _http.GetAsync("api/rules?ruleDisabled=maybe"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task DisableEnableDelete_changeTheRule_andMissingRulesAre404()
    {
        await OkAsync(await _http.PostAsync("api/rules/Flip", Raw(SoilTelemetry)));
        await OkAsync(await _http.PostAsync("api/rules/Flip/disable", null));
        Assert.True((await OkAsync(await _http.GetAsync("api/rules/Flip"))).GetProperty("rule").GetProperty("ruleDisabled").GetBoolean());
        await OkAsync(await _http.PostAsync("api/rules/Flip/enable", null));
        Assert.False((await OkAsync(await _http.GetAsync("api/rules/Flip"))).GetProperty("rule").GetProperty("ruleDisabled").GetBoolean());

        await OkAsync(await _http.DeleteAsync("api/rules/Flip"));
        await ProblemAsync(await _http.GetAsync("api/rules/Flip"), HttpStatusCode.NotFound);
        await ProblemAsync(await _http.DeleteAsync("api/rules/Flip"), HttpStatusCode.NotFound);
        await ProblemAsync(await _http.PostAsync("api/rules/Flip/enable", null), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task RuleApi_withoutFunctionKey_isRefused()
    {
        using var anonymous = new HttpClient { BaseAddress = _app.BaseUrl };
        using var response = await anonymous.GetAsync("api/rules");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
