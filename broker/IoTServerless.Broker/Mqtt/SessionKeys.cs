namespace IoTServerless.Broker.Mqtt;

/// <summary>What the broker keeps in a connection's session items.</summary>
internal static class SessionKeys
{
    public const string Principal = "iot.principal";
    public const string SessionId = "iot.session";
    public const string IpAddress = "iot.ip";
    public const string ProtocolVersion = "iot.protocol";
}
