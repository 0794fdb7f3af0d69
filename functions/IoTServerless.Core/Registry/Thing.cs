namespace IoTServerless.Core.Registry;

/// <summary>A thing as the HTTP API returns it.</summary>
public sealed record Thing(string ThingName, ThingConnectivity Connectivity);

/// <summary>
/// Whether the thing's client is connected, since when (epoch ms) and, when it is not, why it
/// disconnected — the shape of AWS IoT's thing connectivity.
/// </summary>
public sealed record ThingConnectivity(bool Connected, long Timestamp, string? DisconnectReason)
{
    public static readonly ThingConnectivity Unknown = new(false, 0, null);
}
