namespace FarmSimulator.Provisioning;

/// <summary>
/// The farm's least-privilege policies. Each device connects only as its own thing
/// (<c>${iot:Connection.Thing.ThingName}</c>): a sensor may publish only its data topic, a pump may
/// hear only its command topic and report only its state, the monitor may only read.
/// </summary>
public static class FarmPolicies
{
    public const string Sensor = "FarmSensor";
    public const string Pump = "FarmPump";
    public const string Monitor = "FarmMonitor";
    public const string MonitorThing = "farm-monitor";

    const string Thing = "${iot:Connection.Thing.ThingName}";

    public static string SensorDocument(string farm) => Document(
        Allow("iot:Connect", $"client/{Thing}"),
        Allow("iot:Publish", $"topic/{farm}/sensor/{Thing}/data"));

    public static string PumpDocument(string farm) => Document(
        Allow("iot:Connect", $"client/{Thing}"),
        Allow("iot:Publish", $"topic/{farm}/pump/{Thing}/state"),
        Allow("iot:Subscribe", $"topicfilter/{farm}/pump/{Thing}/cmd"),
        Allow("iot:Receive", $"topic/{farm}/pump/{Thing}/cmd"));

    public static string MonitorDocument(string farm) => Document(
        Allow("iot:Connect", $"client/{Thing}"),
        Allow("iot:Subscribe", $"topicfilter/{farm}/#"),
        Allow("iot:Receive", $"topic/{farm}/*"));

    static string Allow(string action, string resource)
        => $$"""{"Effect":"Allow","Action":"{{action}}","Resource":"arn:aws:iot:*:*:{{resource}}"}""";

    static string Document(params string[] statements)
        => $$"""{"Version":"2012-10-17","Statement":[{{string.Join(",", statements)}}]}""";
}
