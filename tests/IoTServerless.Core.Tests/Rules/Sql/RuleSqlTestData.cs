using System.Text;
using System.Text.Json;
using IoTServerless.Core.Rules.Sql;

namespace IoTServerless.Core.Tests.Rules.Sql;

internal static class RuleSqlTestData
{
    public const string SensorPayload = """{"sensorId":"sensor-0042","temperature":21.5,"humidity":30.2,"ph":6.7,"battery":3.61,"ts":1764345600000}""";

    public const string SensorTopic = "farmA/sensor/sensor-0042/data";

    public const long Timestamp = 1_764_345_600_123;

    public const string SeedTelemetry = "SELECT temperature, humidity, ph, timestamp() AS ts, topic(3) AS sensorId FROM 'farmA/sensor/+/data'";

    public const string SeedLowHumidity = "SELECT *, topic(3) AS sensorId FROM 'farmA/sensor/+/data' WHERE humidity < 35";

    public static RuleMessage Message(string payload = SensorPayload, string topic = SensorTopic, string? clientId = "sensor-0042", string? principal = "ab12cd", string? messageId = "m-1") =>
        new(topic, Encoding.UTF8.GetBytes(payload), clientId, principal, Timestamp, messageId);

    public static RuleMessage BinaryMessage(byte[] payload, string topic = SensorTopic) => new(topic, payload, "c-1", null, Timestamp);

    /// <summary>The SELECT output as text (asserts the rule matched).</summary>
    public static string Output(string sql, RuleMessage message)
    {
        var evaluation = RuleQuery.Compile(sql).Evaluate(message);
        Assert.True(evaluation.Matched, $"'{sql}' did not match");
        return Encoding.UTF8.GetString(evaluation.Output.Span);
    }

    public static string Output(string sql, string payload = SensorPayload) => Output(sql, Message(payload));

    /// <summary>The value of <c>SELECT VALUE expr</c> as JSON text, or "Undefined".</summary>
    public static string Value(string expression, string payload = SensorPayload, string topic = SensorTopic)
    {
        var evaluation = RuleQuery.Compile($"SELECT VALUE {expression} FROM '#'").Evaluate(Message(payload, topic));
        Assert.True(evaluation.Matched);
        return evaluation.Output.IsEmpty ? "Undefined" : Encoding.UTF8.GetString(evaluation.Output.Span);
    }

    /// <summary>Whether <c>WHERE condition</c> matches.</summary>
    public static bool Where(string condition, string payload = SensorPayload) =>
        RuleQuery.Compile($"SELECT * FROM '#' WHERE {condition}").Evaluate(Message(payload)).Matched;

    /// <summary>Asserts two JSON texts are equal ignoring whitespace and property order.</summary>
    public static void JsonEqual(string expected, string actual)
    {
        using var e = JsonDocument.Parse(expected);
        using var a = JsonDocument.Parse(actual);
        Assert.True(JsonElement.DeepEquals(e.RootElement, a.RootElement), $"Expected {expected}\nActual   {actual}");
    }
}
