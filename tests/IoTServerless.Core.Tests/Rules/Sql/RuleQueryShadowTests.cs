using System.Text.Json;
using IoTServerless.Core.Rules.Sql;
using static IoTServerless.Core.Tests.Rules.Sql.RuleSqlTestData;

namespace IoTServerless.Core.Tests.Rules.Sql;

/// <summary>get_thing_shadow: the shadows a message names are fetched, then the query runs over them.</summary>
public sealed class RuleQueryShadowTests
{
    sealed class FakeShadows(Dictionary<(string, string?), string> shadows) : IRuleFunctionServices
    {
        public List<(string Thing, string? Shadow)> Calls { get; } = [];

        public ValueTask<JsonElement?> GetThingShadowAsync(string thingName, string? shadowName, CancellationToken cancellationToken)
        {
            Calls.Add((thingName, shadowName));
            return ValueTask.FromResult(shadows.TryGetValue((thingName, shadowName), out var json) ? JsonDocument.Parse(json).RootElement : (JsonElement?)null);
        }
    }

    static readonly FakeShadows Services = new(new()
    {
        [("pump-1", null)] = """{"state":{"reported":{"on":true,"flow":12.5}},"version":3}""",
        [("pump-1", "config")] = """{"state":{"desired":{"threshold":40}}}""",
        [("pump-2", null)] = """{"state":{"reported":{"on":false}}}""",
    });

    static async Task<(bool Matched, string Output)> Run(string sql, string payload, FakeShadows? services = null)
    {
        var evaluation = await RuleQuery.Compile(sql).EvaluateAsync(Message(payload, "farmA/pump/pump-1/status"), services ?? Services, CancellationToken.None);
        return (evaluation.Matched, System.Text.Encoding.UTF8.GetString(evaluation.Output.Span));
    }

    [Fact]
    public async Task EvaluateAsync_classicShadowInWhereAndSelect_isRead()
    {
        var result = await Run(
            "SELECT get_thing_shadow(topic(3), 'arn:aws:iam::1:role/r').state.reported.flow AS flow FROM 'farmA/pump/+/status' WHERE get_thing_shadow(topic(3), 'arn').state.reported.on = true",
            "{}");

        Assert.Equal((true, """{"flow":12.5}"""), result);
    }

    [Fact]
    public async Task EvaluateAsync_namedShadow_isRead()
    {
        var result = await Run("SELECT VALUE get_thing_shadow(pump, 'config', 'arn').state.desired.threshold FROM '#'", """{"pump":"pump-1"}""");

        Assert.Equal((true, "40"), result);
    }

    [Fact]
    public async Task EvaluateAsync_shadowStateDecidesWhere()
    {
        var result = await Run("SELECT pump FROM '#' WHERE get_thing_shadow(pump, 'arn').state.reported.on", """{"pump":"pump-2"}""");

        Assert.False(result.Matched);
    }

    [Fact]
    public async Task EvaluateAsync_missingShadowOrThing_isUndefined()
    {
        var services = new FakeShadows([]);

        Assert.Equal((true, "{}"), await Run("SELECT get_thing_shadow(pump, 'arn') AS s FROM '#'", """{"pump":"pump-9"}""", services));
        Assert.Equal((true, "{}"), await Run("SELECT get_thing_shadow(nothing, 'arn') AS s FROM '#'", "{}", services));
        Assert.Equal([("pump-9", (string?)null)], services.Calls);
    }

    [Fact]
    public async Task EvaluateAsync_whereFalseWithoutShadows_fetchesNothing()
    {
        var services = new FakeShadows([]);

        var result = await Run("SELECT get_thing_shadow(pump, 'arn') AS s FROM '#' WHERE level > 10", """{"pump":"pump-1","level":3}""", services);

        Assert.False(result.Matched);
        Assert.Empty(services.Calls);
    }

    [Fact]
    public async Task EvaluateAsync_sameShadowTwice_isFetchedOnce()
    {
        var services = new FakeShadows(new() { [("pump-1", null)] = """{"version":3}""" });

        var result = await Run("SELECT get_thing_shadow(pump, 'a').version AS v, get_thing_shadow(pump, 'b').version AS w FROM '#'", """{"pump":"pump-1"}""", services);

        Assert.Equal((true, """{"v":3,"w":3}"""), result);
        Assert.Single(services.Calls);
    }

    [Fact]
    public async Task EvaluateAsync_queryWithoutShadows_evaluatesWithoutServices()
    {
        var evaluation = await RuleQuery.Compile(SeedLowHumidity).EvaluateAsync(Message(), null!, CancellationToken.None);

        Assert.True(evaluation.Matched);
    }

    [Fact]
    public void Evaluate_queryWithShadows_throws()
    {
        var query = RuleQuery.Compile("SELECT get_thing_shadow('t', 'arn') AS s FROM '#'");

        Assert.True(query.NeedsServices);
        Assert.Throws<InvalidOperationException>(() => query.Evaluate(Message()));
    }
}
