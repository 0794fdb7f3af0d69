using System.Text.Json.Serialization;

namespace IoTServerless.Core.Registry;

/// <summary>A thing as DescribeThing returns it, plus its connectivity.</summary>
public sealed record Thing
{
    public required string ThingName { get; init; }

    /// <summary>AWS: the client id a device is expected to connect with, the thing name.</summary>
    public string DefaultClientId => ThingName;

    public required string ThingId { get; init; }

    public required string ThingArn { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ThingTypeName { get; init; }

    public required IReadOnlyDictionary<string, string> Attributes { get; init; }

    /// <summary>Starts at 1 and rises with every update (connectivity changes do not count).</summary>
    public required long Version { get; init; }

    public required ThingConnectivity Connectivity { get; init; }
}

/// <summary>
/// Whether the thing's client is connected, since when (epoch ms) and, when it is not, why it
/// disconnected — the shape of AWS IoT's thing connectivity.
/// </summary>
public sealed record ThingConnectivity(bool Connected, long Timestamp, string? DisconnectReason)
{
    public static readonly ThingConnectivity Unknown = new(false, 0, null);
}

/// <summary>A thing as ListThings returns it.</summary>
public sealed record ThingSummary(
    string ThingName,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ThingTypeName,
    string ThingArn,
    IReadOnlyDictionary<string, string> Attributes,
    long Version);

/// <summary>CreateThing's answer.</summary>
public sealed record CreateThingResult(string ThingName, string ThingArn, string ThingId);

/// <summary>CreateThing's body.</summary>
public sealed record CreateThingRequest
{
    public string? ThingTypeName { get; init; }

    public IReadOnlyDictionary<string, string> Attributes { get; init; } = new Dictionary<string, string>();
}

/// <summary>UpdateThing's body.</summary>
public sealed record UpdateThingRequest
{
    public string? ThingTypeName { get; init; }

    public bool RemoveThingType { get; init; }

    /// <summary>Null leaves the attributes as they are.</summary>
    public IReadOnlyDictionary<string, string>? Attributes { get; init; }

    /// <summary>Merge into the stored attributes ("" removes one) instead of replacing them all.</summary>
    public bool Merge { get; init; }

    public long? ExpectedVersion { get; init; }
}

/// <summary>ListThings' filters. <see cref="ThingGroupName"/> lists the group's direct members.</summary>
public sealed record ThingQuery
{
    public string? ThingTypeName { get; init; }

    public string? AttributeName { get; init; }

    public string? AttributeValue { get; init; }

    public string? ThingGroupName { get; init; }

    public int? MaxResults { get; init; }

    public string? NextToken { get; init; }
}
