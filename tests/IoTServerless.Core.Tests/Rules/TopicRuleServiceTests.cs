using System.Text.Json;
using IoTServerless.Core.Rules;
using IoTServerless.Testing;

namespace IoTServerless.Core.Tests.Rules;

/// <summary>The rule control plane on Azurite: CRUD, paging, filters and validation that stores nothing when it refuses.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class TopicRuleServiceTests(AzuriteFixture azurite) : IDisposable
{
    readonly RulesTestHost _host = new(azurite);

    public void Dispose() => _host.Dispose();

    TopicRuleService Rules => _host.Rules;

    static TopicRule Rule(string name, string sql = "SELECT * FROM 'farmA/sensor/+/data'", IReadOnlyList<RuleAction>? actions = null, RuleAction? errorAction = null, bool disabled = false)
        => new()
        {
            RuleName = name,
            Sql = sql,
            Description = "test rule",
            RuleDisabled = disabled,
            Actions = actions ?? [new RuleAction { Table = new TableAction { TableName = "IoTSensorData" } }],
            ErrorAction = errorAction,
        };

    static RuleAction Republish(string topic = "farmA/alerts/${topic(3)}") => new() { Republish = new RepublishAction { Topic = topic, Qos = 1 } };

    [Fact]
    public async Task CreateAsync_newRule_isStoredAndGetReturnsItWithCreationTime()
    {
        var before = DateTimeOffset.UtcNow.AddSeconds(-5);
        await Rules.CreateAsync(Rule("SoilTelemetry", errorAction: Republish("errors/rules")), default);

        var got = await Rules.GetAsync("SoilTelemetry", default);
        Assert.Equal("SELECT * FROM 'farmA/sensor/+/data'", got.Sql);
        Assert.Equal("test rule", got.Description);
        Assert.Equal("IoTSensorData", Assert.Single(got.Actions).Table!.TableName);
        Assert.Equal("${topic()}", got.Actions[0].Table!.PartitionKey);
        Assert.Equal("errors/rules", got.ErrorAction!.Republish!.Topic);
        Assert.Equal("2016-03-23", got.AwsIotSqlVersion);
        Assert.False(got.RuleDisabled);
        Assert.True(got.CreatedAt > before);
        Assert.Equal("arn:aws:iot:local:000000000000:rule/SoilTelemetry", Rules.ArnOf("SoilTelemetry"));
    }

    [Fact]
    public async Task CreateAsync_existingName_is409AndKeepsTheFirst()
    {
        await Rules.CreateAsync(Rule("Twice"), default);
        var ex = await Assert.ThrowsAsync<TopicRuleException>(() => Rules.CreateAsync(Rule("Twice", "SELECT a FROM 'x/y'"), default));
        Assert.Equal(409, ex.Status);
        Assert.Equal("ResourceAlreadyExistsException", ex.Code);
        Assert.Equal("SELECT * FROM 'farmA/sensor/+/data'", (await Rules.GetAsync("Twice", default)).Sql);
    }

    [Fact]
    public async Task GetAsync_missingRule_is404()
    {
        var ex = await Assert.ThrowsAsync<TopicRuleException>(() => Rules.GetAsync("Nope", default));
        Assert.Equal(404, ex.Status);
        Assert.Equal("ResourceNotFoundException", ex.Code);
    }

    [Fact]
    public async Task ReplaceAsync_existingRule_replacesEverythingButCreationTime()
    {
        var created = await Rules.CreateAsync(Rule("Replaced"), default);
        await Rules.ReplaceAsync(Rule("Replaced", "SELECT humidity FROM 'farmB/#' WHERE humidity < 35", [Republish()]), default);

        var got = await Rules.GetAsync("Replaced", default);
        Assert.Equal("SELECT humidity FROM 'farmB/#' WHERE humidity < 35", got.Sql);
        Assert.NotNull(Assert.Single(got.Actions).Republish);
        Assert.Equal(created.CreatedAt, got.CreatedAt);
        var listed = await Rules.ListAsync("farmB/#", null, null, null, default);
        Assert.Equal("Replaced", Assert.Single(listed.Items).RuleName);
    }

    [Fact]
    public async Task ReplaceAsync_missingRule_is404AndStoresNothing()
    {
        var ex = await Assert.ThrowsAsync<TopicRuleException>(() => Rules.ReplaceAsync(Rule("Ghost"), default));
        Assert.Equal(404, ex.Status);
        Assert.Equal(404, (await Assert.ThrowsAsync<TopicRuleException>(() => Rules.GetAsync("Ghost", default))).Status);
    }

    [Fact]
    public async Task ListAsync_pagesWithNextToken_andFiltersByTopicAndDisabled()
    {
        for (var i = 0; i < 5; i++)
        {
            await Rules.CreateAsync(Rule($"Paged{i}", "SELECT * FROM 'paged/+'", disabled: i == 4), default);
        }
        await Rules.CreateAsync(Rule("OtherTopic", "SELECT * FROM 'other/+'"), default);

        var names = new List<string>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = await Rules.ListAsync("paged/+", null, 2, token, default);
            Assert.True(page.Items.Count <= 2);
            names.AddRange(page.Items.Select(r => r.RuleName));
            Assert.All(page.Items, r => Assert.Equal("paged/+", r.TopicPattern));
            token = page.NextToken;
            pages++;
        }
        while (token is not null && pages < 10);
        Assert.Equal(["Paged0", "Paged1", "Paged2", "Paged3", "Paged4"], names);
        Assert.True(pages >= 3);

        var enabled = await Rules.ListAsync("paged/+", false, null, null, default);
        Assert.Equal(["Paged0", "Paged1", "Paged2", "Paged3"], enabled.Items.Select(r => r.RuleName));
        var disabled = await Rules.ListAsync(null, true, null, null, default);
        Assert.Equal("Paged4", Assert.Single(disabled.Items).RuleName);
        Assert.True(Assert.Single(disabled.Items).RuleDisabled);
        var all = await Rules.ListAsync(null, null, null, null, default);
        Assert.Equal(6, all.Items.Count);
        Assert.Null(all.NextToken);
    }

    [Fact]
    public async Task ListAsync_tokenOfAnotherFilter_is400()
    {
        for (var i = 0; i < 3; i++)
        {
            await Rules.CreateAsync(Rule($"Tok{i}"), default);
        }
        var page = await Rules.ListAsync(null, null, 1, null, default);
        Assert.NotNull(page.NextToken);
        var ex = await Assert.ThrowsAnyAsync<ControlPlaneException>(() => Rules.ListAsync("farmA/sensor/+/data", null, 1, page.NextToken, default));
        Assert.Equal(400, ex.Status);
    }

    [Fact]
    public async Task DeleteAsync_removesTheRule_andAMissingRuleIs404()
    {
        await Rules.CreateAsync(Rule("Doomed"), default);
        await Rules.DeleteAsync("Doomed", default);
        Assert.Equal(404, (await Assert.ThrowsAsync<TopicRuleException>(() => Rules.GetAsync("Doomed", default))).Status);
        Assert.Equal(404, (await Assert.ThrowsAsync<TopicRuleException>(() => Rules.DeleteAsync("Doomed", default))).Status);
    }

    [Fact]
    public async Task DisableAsync_thenEnableAsync_flipRuleDisabledAndTheEnabledFilters()
    {
        await Rules.CreateAsync(Rule("Toggle", "SELECT * FROM 'toggle/#'"), default);
        await Rules.DisableAsync("Toggle", default);
        Assert.True((await Rules.GetAsync("Toggle", default)).RuleDisabled);
        Assert.DoesNotContain("toggle/#", await _host.Store.ListEnabledTopicFiltersAsync(default));

        await Rules.EnableAsync("Toggle", default);
        Assert.False((await Rules.GetAsync("Toggle", default)).RuleDisabled);
        Assert.Contains("toggle/#", await _host.Store.ListEnabledTopicFiltersAsync(default));
        Assert.Equal(404, (await Assert.ThrowsAsync<TopicRuleException>(() => Rules.EnableAsync("Missing", default))).Status);
    }

    [Fact]
    public async Task CreateAsync_badSql_is400SqlParseExceptionWithLineAndColumn_andStoresNothing()
    {
        var ex = await Assert.ThrowsAsync<TopicRuleException>(() => Rules.CreateAsync(Rule("BadSql", "SELECT temperature\nFROM 'a/b' WHERE ((("), default));
        Assert.Equal(400, ex.Status);
        Assert.Equal("SqlParseException", ex.Code);
        Assert.Equal(2, ex.Line);
        Assert.NotNull(ex.Column);
        Assert.Contains("line 2", ex.Message);
        await AssertNotStoredAsync("BadSql");
    }

    [Theory]
    [InlineData("bad-name", "ruleName")]
    [InlineData("", "ruleName")]
    public async Task CreateAsync_invalidName_is400NamingIt(string name, string field)
    {
        var ex = await Assert.ThrowsAsync<TopicRuleException>(() => Rules.CreateAsync(Rule(name), default));
        Assert.Equal(400, ex.Status);
        Assert.Contains(field, ex.Message);
    }

    [Fact]
    public async Task CreateAsync_otherSqlVersion_is400()
    {
        var ex = await Assert.ThrowsAsync<TopicRuleException>(() => Rules.CreateAsync(Rule("OldSql") with { AwsIotSqlVersion = "2015-10-08" }, default));
        Assert.Equal(400, ex.Status);
        Assert.Contains("awsIotSqlVersion", ex.Message);
        await AssertNotStoredAsync("OldSql");
    }

    [Fact]
    public async Task CreateAsync_noActionsOrMoreThanTen_is400()
    {
        var none = await Assert.ThrowsAsync<TopicRuleException>(() => Rules.CreateAsync(Rule("NoActions", actions: []), default));
        Assert.Contains("actions", none.Message);
        var eleven = Enumerable.Range(0, 11).Select(_ => Republish()).ToList();
        var many = await Assert.ThrowsAsync<TopicRuleException>(() => Rules.CreateAsync(Rule("ElevenActions", actions: eleven), default));
        Assert.Equal(400, many.Status);
        Assert.Contains("11", many.Message);
        await AssertNotStoredAsync("NoActions");
        await AssertNotStoredAsync("ElevenActions");
    }

    [Fact]
    public async Task CreateAsync_actionWithTwoKindsOrAKindWithoutHandler_is400NamingTheAction()
    {
        var two = new RuleAction { Table = new TableAction { TableName = "Abc" }, Republish = new RepublishAction { Topic = "a/b" } };
        var ex = await Assert.ThrowsAsync<TopicRuleException>(() => Rules.CreateAsync(Rule("TwoKinds", actions: [Republish(), two]), default));
        Assert.Contains("actions[1]", ex.Message);

        // No handler for queue actions is registered in this host.
        var queue = new RuleAction { Queue = new QueueAction { QueueName = "alerts" } };
        var unknown = await Assert.ThrowsAsync<TopicRuleException>(() => Rules.CreateAsync(Rule("NoHandler", actions: [queue]), default));
        Assert.Equal(400, unknown.Status);
        Assert.Contains("actions[0].queue", unknown.Message);
        await AssertNotStoredAsync("TwoKinds");
        await AssertNotStoredAsync("NoHandler");
    }

    [Fact]
    public async Task CreateAsync_invalidActionSettings_is400ListingEveryProblem()
    {
        var badTable = new RuleAction { Table = new TableAction { TableName = "no such table!", PartitionKey = "${topic(3}" } };
        var badRepublish = new RuleAction { Republish = new RepublishAction { Topic = "alerts/#", Qos = 2 } };
        var ex = await Assert.ThrowsAsync<TopicRuleException>(() => Rules.CreateAsync(Rule("BadActions", actions: [badTable], errorAction: badRepublish), default));
        Assert.Equal(400, ex.Status);
        Assert.Equal("InvalidRequestException", ex.Code);
        Assert.Contains(ex.Problems, p => p.StartsWith("actions[0].table: tableName", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.StartsWith("actions[0].table: partitionKey", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.StartsWith("errorAction.republish: topic", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.StartsWith("errorAction.republish: qos", StringComparison.Ordinal));
        await AssertNotStoredAsync("BadActions");
    }

    [Fact]
    public async Task ReplaceAsync_invalidRule_is400AndKeepsTheStoredRule()
    {
        await Rules.CreateAsync(Rule("Kept"), default);
        await Assert.ThrowsAsync<TopicRuleException>(() => Rules.ReplaceAsync(Rule("Kept", "SELECT FROM"), default));
        Assert.Equal("SELECT * FROM 'farmA/sensor/+/data'", (await Rules.GetAsync("Kept", default)).Sql);
    }

    [Fact]
    public void Parse_awsShapedJson_readsEveryField()
    {
        using var body = JsonDocument.Parse("""
            {"sql":"SELECT * FROM 'a/+'","description":"d","ruleDisabled":true,"awsIotSqlVersion":"2016-03-23",
             "actions":[{"table":{"tableName":"T1","partitionKey":"${topic(2)}"}},{"republish":{"topic":"$$aws/things/x/shadow/update","qos":1,"retain":true}},
                        {"http":{"url":"https://example.com/hook","headers":[{"key":"k","value":"v"}]}}],
             "errorAction":{"republish":{"topic":"errors"}}}
            """);
        var rule = TopicRuleJson.Parse("R1", body.RootElement);
        Assert.Equal("R1", rule.RuleName);
        Assert.True(rule.RuleDisabled);
        Assert.Equal("${topic(2)}", rule.Actions[0].Table!.PartitionKey);
        Assert.Equal("${timestamp()}", rule.Actions[0].Table!.RowKey);
        Assert.True(rule.Actions[1].Republish!.Retain);
        Assert.Equal("v", rule.Actions[2].Http!.Headers[0].Value);
        Assert.Equal("errors", rule.ErrorAction!.Republish!.Topic);
        // Stored and read back, an action keeps only its one key.
        var json = TopicRuleJson.Serialize(rule);
        Assert.DoesNotContain("\"queue\"", json);
        Assert.Equal(rule.Actions[2].Http!.Url, TopicRuleJson.Deserialize(json).Actions[2].Http!.Url);
    }

    [Fact]
    public void Parse_structuralProblems_areEachNamed()
    {
        using var body = JsonDocument.Parse("""
            {"ruleDisabled":"yes","actions":[{"lambda":{"functionArn":"x"}},{"table":{"tableName":"T"},"republish":{"topic":"a"}},{"table":{}}],"errorAction":[]}
            """);
        var ex = Assert.Throws<TopicRuleException>(() => TopicRuleJson.Parse("R", body.RootElement));
        Assert.Equal(400, ex.Status);
        Assert.Contains(ex.Problems, p => p.StartsWith("sql is required", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.StartsWith("ruleDisabled", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.StartsWith("actions[0]: unknown action kind 'lambda'", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.StartsWith("actions[1] must set exactly one", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.StartsWith("actions[2].table:", StringComparison.Ordinal) && p.Contains("tableName"));
        Assert.Contains(ex.Problems, p => p.StartsWith("errorAction must be an object", StringComparison.Ordinal));
    }

    async Task AssertNotStoredAsync(string name)
    {
        if (name.Length > 0)
        {
            Assert.Null(await _host.Store.GetAsync(name, default));
        }
        Assert.DoesNotContain((await Rules.ListAsync(null, null, null, null, default)).Items, r => r.RuleName == name);
    }
}
