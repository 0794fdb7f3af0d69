namespace FarmSimulator.Provisioning;

/// <summary>
/// The farm's two seed rules, the irrigation loop without server code of the platform's own:
/// <c>SoilTelemetry</c> stores every reading in the <c>IoTSensorData</c> table (one partition per
/// sensor), <c>LowHumidity</c> calls the <c>IrrigationController</c> function for every dry reading.
/// Failures of either go to the <c>IoTRuleErrors</c> table.
/// </summary>
public static class FarmRules
{
    public const string SoilTelemetry = "SoilTelemetry";
    public const string LowHumidity = "LowHumidity";
    public const string TelemetryTable = "IoTSensorData";
    public const string ErrorTable = "IoTRuleErrors";

    /// <summary>Below this soil humidity (percent) the sensor's pump is switched on.</summary>
    public const int DryBelow = 35;

    /// <summary>The app setting of the function app that holds the key the function action sends.</summary>
    public const string FunctionKeySetting = "Hosting:FunctionKey";

    public static string SoilTelemetrySql(string farm)
        => $"SELECT temperature, humidity, ph, timestamp() AS ts, topic(3) AS sensorId FROM '{farm}/sensor/+/data'";

    public static string LowHumiditySql(string farm)
        => $"SELECT *, topic(3) AS sensorId FROM '{farm}/sensor/+/data' WHERE humidity < {DryBelow}";

    static object ErrorAction => new { table = new { tableName = ErrorTable, partitionKey = "${topic(3)}", rowKey = "${timestamp()}" } };

    /// <summary>The rules' bodies for <c>POST /api/rules/{name}</c>, by name.</summary>
    public static IReadOnlyDictionary<string, object> Bodies(string farm, Uri irrigationController) => new Dictionary<string, object>
    {
        [SoilTelemetry] = new
        {
            sql = SoilTelemetrySql(farm),
            description = "Every soil reading into the IoTSensorData table, one partition per sensor.",
            actions = new object[] { new { table = new { tableName = TelemetryTable, partitionKey = "${topic(3)}", rowKey = "${timestamp()}" } } },
            errorAction = ErrorAction,
        },
        [LowHumidity] = new
        {
            sql = LowHumiditySql(farm),
            description = $"Soil humidity below {DryBelow} %: the IrrigationController function switches the sensor's pump on.",
            actions = new object[] { new { function = new { url = irrigationController.ToString(), keySetting = FunctionKeySetting } } },
            errorAction = ErrorAction,
        },
    };
}
