using IoTServerless.Core.Rules.Sql;
using static IoTServerless.Core.Tests.Rules.Sql.RuleSqlTestData;

namespace IoTServerless.Core.Tests.Rules.Sql;

public sealed class RuleTemplateTests
{
    static string Render(string template, RuleMessage? message = null) => RuleTemplate.Compile(template).Render(message ?? Message());

    [Fact]
    public void Render_topicSegmentsAndTimestamp_areSubstituted() =>
        Assert.Equal("farm/sensor-0042/1764345600123", Render("farm/${topic(3)}/${timestamp()}"));

    [Fact]
    public void Render_wholeTopic_isTheTopic() => Assert.Equal(SensorTopic, Render("${topic()}"));

    [Fact]
    public void Render_clientIdAndPrincipal_areSubstituted() => Assert.Equal("sensor-0042|ab12cd", Render("${clientid()}|${principal()}"));

    [Fact]
    public void Render_payloadFields_stringsWithoutQuotesNumbersAsText() =>
        Assert.Equal("sensor-0042:30.2:1764345600000", Render("${sensorId}:${humidity}:${ts}"));

    [Fact]
    public void Render_nestedFieldAndExpression_areEvaluated() =>
        Assert.Equal("north-42", Render("${lower(site.name)}-${site.n * 2}", Message("""{"site":{"name":"NORTH","n":21}}""")));

    [Fact]
    public void Render_objectValue_isJson() =>
        Assert.Equal("""x{"a":1}""", Render("x${site}", Message("""{"site":{"a":1}}""")));

    [Fact]
    public void Render_undefined_isEmpty() => Assert.Equal("a//b", Render("a/${missing}/b"));

    [Fact]
    public void Render_newuuid_isAFreshUuidEachTime()
    {
        var template = RuleTemplate.Compile("${newuuid()}");
        var first = template.Render(Message());
        var second = template.Render(Message());

        Assert.True(Guid.TryParse(first, out _));
        Assert.NotEqual(first, second);
    }

    [Fact]
    public void Render_noExpression_isTheTextUnchanged()
    {
        var template = RuleTemplate.Compile("plain $ text {}");

        Assert.False(template.HasExpressions);
        Assert.Equal("plain $ text {}", template.Render(Message()));
    }

    [Fact]
    public void Render_stringLiteralWithBrace_doesNotEndTheExpression() =>
        Assert.Equal("a}b", Render("${concat('a}', 'b')}"));

    [Fact]
    public void Render_parseTime_formatsTheTimestamp() =>
        Assert.Equal("2025/11/28", Render("${parse_time('yyyy/MM/dd', timestamp())}"));

    [Fact]
    public void Render_doubleDollarReservedTopic_isLeftForTheRepublishAction() =>
        Assert.Equal("$$aws/things/sensor-0042/shadow/update", Render("$$aws/things/${topic(3)}/shadow/update"));

    [Fact]
    public void Render_objectLiteralInsideTheExpression_isBalanced() =>
        Assert.Equal("v=7!", Render("v=${get({'a': {'b': 7}}, 'a').b}!"));

    [Fact]
    public void Render_nonJsonPayload_fieldsAreEmptyContextStillWorks() =>
        Assert.Equal("sensor-0042/", Render("${topic(3)}/${temperature}", BinaryMessage([1, 2, 3])));

    [Fact]
    public void Render_caseAndArithmetic_areEvaluated() =>
        Assert.Equal("dry-60", Render("${CASE WHEN humidity < 35 THEN 'dry' ELSE 'wet' END}-${round(humidity * 2)}"));

    [Fact]
    public void Render_isSafeAcrossThreads()
    {
        var template = RuleTemplate.Compile("${topic(3)}:${n}");
        Parallel.For(0, 1000, i =>
            Assert.Equal($"s{i}:{i}", template.Render(Message($$"""{"n":{{i}}}""", $"farmA/sensor/s{i}/data"))));
    }

    [Theory]
    [InlineData("a/${topic(3)", 1, 13, "Expected '}'")]
    [InlineData("a/${}", 1, 5, "Expected an expression")]
    [InlineData("x ${nosuch()}", 1, 5, "Unknown function 'nosuch'")]
    [InlineData("line1\n${topic(}", 2, 9, "Expected an expression")]
    [InlineData("${get_thing_shadow('t', 'arn')}", 1, 3, "get_thing_shadow is not supported")]
    public void Compile_badExpression_throwsWithPosition(string template, int line, int column, string reason)
    {
        var error = Assert.Throws<RuleSqlException>(() => RuleTemplate.Compile(template));

        Assert.Equal((line, column), (error.Line, error.Column));
        Assert.StartsWith(reason, error.Reason, StringComparison.Ordinal);
    }
}
