using System.Text;
using IoTServerless.Core.Rules.Sql;
using static IoTServerless.Core.Tests.Rules.Sql.RuleSqlTestData;

namespace IoTServerless.Core.Tests.Rules.Sql;

/// <summary>The two seed rules, exactly as the farm uses them.</summary>
public sealed class RuleQuerySeedTests
{
    [Fact]
    public void Compile_seedTelemetry_readsTheTopicFilter()
    {
        var query = RuleQuery.Compile(SeedTelemetry);

        Assert.Equal("farmA/sensor/+/data", query.TopicFilter);
        Assert.Equal(SeedTelemetry, query.Sql);
        Assert.False(query.NeedsServices);
    }

    [Fact]
    public void Evaluate_seedTelemetry_selectsFieldsTimestampAndSensorId()
    {
        var output = Output(SeedTelemetry, Message(topic: "farmA/sensor/soil-7/data"));

        Assert.Equal("""{"temperature":21.5,"humidity":30.2,"ph":6.7,"ts":1764345600123,"sensorId":"soil-7"}""", output);
    }

    [Fact]
    public void Evaluate_seedTelemetry_missingFieldsAreLeftOut()
    {
        var output = Output(SeedTelemetry, Message("""{"temperature":19}""", "farmA/sensor/s1/data"));

        Assert.Equal("""{"temperature":19,"ts":1764345600123,"sensorId":"s1"}""", output);
    }

    [Fact]
    public void Evaluate_seedLowHumidity_dryMessage_isTheWholePayloadWithTheTopicSensorId()
    {
        var output = Output(SeedLowHumidity, Message(topic: "farmA/sensor/from-topic/data"));

        JsonEqual("""{"sensorId":"from-topic","temperature":21.5,"humidity":30.2,"ph":6.7,"battery":3.61,"ts":1764345600000}""", output);
    }

    [Theory]
    [InlineData("""{"humidity":35}""")]
    [InlineData("""{"humidity":80.5}""")]
    [InlineData("""{"temperature":20}""")]
    [InlineData("""{"humidity":"wet"}""")]
    [InlineData("""{"humidity":null}""")]
    [InlineData("not json")]
    public void Evaluate_seedLowHumidity_notDry_doesNotMatch(string payload)
    {
        var query = RuleQuery.Compile(SeedLowHumidity);

        Assert.False(query.Evaluate(Message(payload)).Matched);
        Assert.False(query.Matches(Message(payload)));
    }

    [Theory]
    [InlineData("""{"humidity":34.99}""")]
    [InlineData("""{"humidity":-1}""")]
    [InlineData("""{"humidity":"30"}""")]
    [InlineData("""{"other":{"humidity":90},"humidity":12}""")]
    public void Matches_seedLowHumidity_dry_matches(string payload) =>
        Assert.True(RuleQuery.Compile(SeedLowHumidity).Matches(Message(payload)));

    [Fact]
    public void Evaluate_seedLowHumidity_isSafeAcrossThreads()
    {
        var query = RuleQuery.Compile(SeedLowHumidity);
        Parallel.For(0, 2000, i =>
        {
            var humidity = i % 70;
            var topic = $"farmA/sensor/s{i}/data";
            var evaluation = query.Evaluate(Message($$"""{"humidity":{{humidity}},"n":{{i}}}""", topic));
            Assert.Equal(humidity < 35, evaluation.Matched);
            if (evaluation.Matched)
            {
                Assert.Equal($$"""{"humidity":{{humidity}},"n":{{i}},"sensorId":"s{{i}}"}""", Encoding.UTF8.GetString(evaluation.Output.Span));
            }
        });
    }

    [Fact]
    public void Matches_seedLowHumidity_allocatesNothingOnceWarm()
    {
        var query = RuleQuery.Compile(SeedLowHumidity);
        var dry = Message();
        var wet = Message(SensorPayload.Replace("30.2", "61.8", StringComparison.Ordinal));
        for (var i = 0; i < 100; i++)
        {
            query.Matches(dry);
            query.Matches(wet);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var matched = 0;
        for (var i = 0; i < 1000; i++)
        {
            matched += query.Matches(dry) ? 1 : 0;
            matched += query.Matches(wet) ? 1 : 0;
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(1000, matched);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Evaluate_seedLowHumidity_notMatched_allocatesNothingOnceWarm()
    {
        var query = RuleQuery.Compile(SeedLowHumidity);
        var wet = Message(SensorPayload.Replace("30.2", "61.8", StringComparison.Ordinal));
        query.Evaluate(wet);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            Assert.False(query.Evaluate(wet).Matched);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
