namespace FarmSimulator.Provisioning;

/// <summary>
/// The farm's least-privilege policies. Each device connects only as its own thing
/// (<c>${iot:Connection.Thing.ThingName}</c>): a sensor may publish only its data topic, a pump may
/// hear only its command topic, report only its state and (<see cref="PumpShadow"/>) use only its own
/// classic shadow, the monitor may only read.
/// </summary>
public static class FarmPolicies
{
    public const string Sensor = "FarmSensor";
    public const string Pump = "FarmPump";
    public const string PumpShadow = "FarmPumpShadow";
    public const string Monitor = "FarmMonitor";
    public const string MonitorThing = "farm-monitor";

    const string Thing = "${iot:Connection.Thing.ThingName}";
    const string Shadow = $"$aws/things/{Thing}/shadow";

    /// <summary>The shadow operations a pump publishes on its own classic shadow (<c>$aws/things/{thing}/shadow/{op}</c>).</summary>
    public static readonly IReadOnlyList<string> PumpShadowRequests = ["get", "update", "delete"];

    /// <summary>The shadow response topics a pump subscribes to and receives, each named exactly (no wildcard).</summary>
    public static readonly IReadOnlyList<string> PumpShadowResponses =
        ["get/accepted", "get/rejected", "update/accepted", "update/rejected", "update/delta", "delete/accepted", "delete/rejected"];

    public static string SensorDocument(string farm) => Document(
        Allow("iot:Connect", $"client/{Thing}"),
        Allow("iot:Publish", $"topic/{farm}/sensor/{Thing}/data"));

    public static string PumpDocument(string farm) => Document(
        Allow("iot:Connect", $"client/{Thing}"),
        Allow("iot:Publish", $"topic/{farm}/pump/{Thing}/state"),
        Allow("iot:Subscribe", $"topicfilter/{farm}/pump/{Thing}/cmd"),
        Allow("iot:Receive", $"topic/{farm}/pump/{Thing}/cmd"));

    /// <summary>
    /// A pump's own classic shadow: publish <see cref="PumpShadowRequests"/>, subscribe to and receive
    /// <see cref="PumpShadowResponses"/>, each resource exact. It is a policy of its own, attached to
    /// pumps next to <see cref="Pump"/>, because together they would pass the 2048-character limit of
    /// a policy document. A bare <c>$</c> not followed by <c>{</c> is literal in a policy resource
    /// (as in AWS's own examples), so <c>$aws</c> needs no <c>${$}</c> escape.
    /// </summary>
    public static string PumpShadowDocument() => Document(
        Allow("iot:Publish", PumpShadowRequests.Select(op => $"topic/{Shadow}/{op}")),
        Allow("iot:Subscribe", PumpShadowResponses.Select(t => $"topicfilter/{Shadow}/{t}")),
        Allow("iot:Receive", PumpShadowResponses.Select(t => $"topic/{Shadow}/{t}")));

    public static string MonitorDocument(string farm) => Document(
        Allow("iot:Connect", $"client/{Thing}"),
        Allow("iot:Subscribe", $"topicfilter/{farm}/#"),
        Allow("iot:Receive", $"topic/{farm}/*"));

    static string Allow(string action, string resource)
        => $$"""{"Effect":"Allow","Action":"{{action}}","Resource":"arn:aws:iot:*:*:{{resource}}"}""";

    static string Allow(string action, IEnumerable<string> resources)
        => $$"""{"Effect":"Allow","Action":"{{action}}","Resource":[{{string.Join(",", resources.Select(r => $"\"arn:aws:iot:*:*:{r}\""))}}]}""";

    static string Document(params string[] statements)
        => $$"""{"Version":"2012-10-17","Statement":[{{string.Join(",", statements)}}]}""";
}
