using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using IoTServerless.Core.Rules.Sql;

namespace IoTServerless.Benchmarks.Rules;

/// <summary>
/// The rules engine's per-message work for the farm's two seed rules on a realistic sensor message:
/// LowHumidity's WHERE alone (matched and not), and each rule's full evaluation (WHERE + SELECT output),
/// against a hand-written <see cref="Utf8JsonReader"/> scan for <c>humidity &lt; 35</c> as the baseline.
/// Min and median are shown too: on a shared machine they say more than the mean.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class RuleSqlBenchmarks
{
    static readonly byte[] Humidity = "humidity"u8.ToArray();

    RuleQuery _lowHumidity = null!;
    RuleQuery _telemetry = null!;
    RuleMessage _dry;
    RuleMessage _wet;

    [GlobalSetup]
    public void Setup()
    {
        _lowHumidity = RuleQuery.Compile("SELECT *, topic(3) AS sensorId FROM 'farmA/sensor/+/data' WHERE humidity < 35");
        _telemetry = RuleQuery.Compile("SELECT temperature, humidity, ph, timestamp() AS ts, topic(3) AS sensorId FROM 'farmA/sensor/+/data'");
        _dry = Message("""{"sensorId":"sensor-0042","temperature":21.5,"humidity":30.2,"ph":6.7,"battery":3.61,"ts":1764345600000}""");
        _wet = Message("""{"sensorId":"sensor-0042","temperature":21.5,"humidity":61.8,"ph":6.7,"battery":3.61,"ts":1764345600000}""");
    }

    static RuleMessage Message(string payload) =>
        new("farmA/sensor/sensor-0042/data", Encoding.UTF8.GetBytes(payload), "sensor-0042", "ab12cd", 1_764_345_600_123);

    [Benchmark(Baseline = true, Description = "hand-written Utf8JsonReader humidity < 35 (baseline)")]
    public bool HandWritten()
    {
        var reader = new Utf8JsonReader(_dry.Payload.Span);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isHumidity = reader.ValueTextEquals(Humidity);
            reader.Read();
            if (isHumidity)
            {
                return reader.TokenType == JsonTokenType.Number && reader.GetDouble() < 35;
            }
            reader.Skip();
        }
        return false;
    }

    [Benchmark(Description = "LowHumidity WHERE, matched")]
    public bool WhereMatched() => _lowHumidity.Matches(_dry);

    [Benchmark(Description = "LowHumidity WHERE, not matched")]
    public bool WhereNotMatched() => _lowHumidity.Matches(_wet);

    [Benchmark(Description = "LowHumidity full (SELECT *, topic(3) AS sensorId … WHERE)")]
    public RuleEvaluation LowHumidityFull() => _lowHumidity.Evaluate(_dry);

    [Benchmark(Description = "LowHumidity full, not matched")]
    public RuleEvaluation LowHumidityNotMatched() => _lowHumidity.Evaluate(_wet);

    [Benchmark(Description = "Telemetry full (5 fields, timestamp(), topic(3))")]
    public RuleEvaluation TelemetryFull() => _telemetry.Evaluate(_dry);
}
