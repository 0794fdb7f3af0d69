using System.Text.Json.Serialization;

namespace IoTServerless.Core.Registry;

/// <summary>A thing type as DescribeThingType and ListThingTypes return it.</summary>
public sealed record ThingType(
    string ThingTypeName,
    string ThingTypeId,
    string ThingTypeArn,
    ThingTypeProperties ThingTypeProperties,
    ThingTypeMetadata ThingTypeMetadata);

public sealed record ThingTypeProperties(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ThingTypeDescription,
    IReadOnlyList<string> SearchableAttributes);

/// <summary>Dates are epoch seconds, as AWS's JSON has them.</summary>
public sealed record ThingTypeMetadata(
    bool Deprecated,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? DeprecationDate,
    double CreationDate);

/// <summary>CreateThingType's answer.</summary>
public sealed record CreateThingTypeResult(string ThingTypeName, string ThingTypeArn, string ThingTypeId);

/// <summary>CreateThingType's <c>thingTypeProperties</c>.</summary>
public sealed record CreateThingTypeRequest
{
    public string? ThingTypeDescription { get; init; }

    public IReadOnlyList<string> SearchableAttributes { get; init; } = [];
}
