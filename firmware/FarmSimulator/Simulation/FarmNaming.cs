namespace FarmSimulator.Simulation;

/// <summary>
/// Thing names, topics and the sensor→pump pairing of a simulated farm.
/// Sensors are <c>soil-001</c>…, pumps <c>pump-001</c>…; sensor i is watered by pump ((i-1) mod M)+1,
/// so pumps take the sensors round-robin (with 20 sensors and 5 pumps, pump-001 waters soil-001,
/// soil-006, soil-011 and soil-016). The platform stores this as the registry attribute <c>pump</c>
/// on each sensor thing.
/// </summary>
public static class FarmNaming
{
    public static string SensorName(int index) => $"soil-{index:D3}";

    public static string PumpName(int index) => $"pump-{index:D3}";

    public static IEnumerable<string> SensorNames(int count) => Enumerable.Range(1, count).Select(SensorName);

    public static IEnumerable<string> PumpNames(int count) => Enumerable.Range(1, count).Select(PumpName);

    /// <summary>The 1-based index of the pump that waters sensor <paramref name="sensorIndex"/> (1-based), or null without pumps.</summary>
    public static int? PumpIndexForSensor(int sensorIndex, int pumpCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sensorIndex, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(pumpCount);
        return pumpCount == 0 ? null : ((sensorIndex - 1) % pumpCount) + 1;
    }

    /// <summary>The 1-based indexes of the sensors watered by pump <paramref name="pumpIndex"/>.</summary>
    public static IEnumerable<int> SensorIndexesForPump(int pumpIndex, int sensorCount, int pumpCount)
        => Enumerable.Range(1, sensorCount).Where(i => PumpIndexForSensor(i, pumpCount) == pumpIndex);

    public static string SensorDataTopic(string farm, string thing) => $"{farm}/sensor/{thing}/data";

    public static string PumpCommandTopic(string farm, string thing) => $"{farm}/pump/{thing}/cmd";

    public static string PumpStateTopic(string farm, string thing) => $"{farm}/pump/{thing}/state";
}
