using System.Text.Json.Serialization;

namespace IoTServerless.Core.Registry;

/// <summary>A thing group as DescribeThingGroup returns it.</summary>
public sealed record ThingGroup(
    string ThingGroupName,
    string ThingGroupId,
    string ThingGroupArn,
    long Version,
    ThingGroupProperties ThingGroupProperties,
    ThingGroupMetadata ThingGroupMetadata);

public sealed record ThingGroupProperties(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ThingGroupDescription,
    AttributePayload AttributePayload);

public sealed record AttributePayload(IReadOnlyDictionary<string, string> Attributes);

/// <summary>The group's place in the hierarchy; <see cref="CreationDate"/> in epoch seconds.</summary>
public sealed record ThingGroupMetadata(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ParentGroupName,
    IReadOnlyList<GroupNameAndArn> RootToParentThingGroups,
    double CreationDate);

/// <summary>A group as the list operations return it.</summary>
public sealed record GroupNameAndArn(string GroupName, string GroupArn);

/// <summary>CreateThingGroup's answer.</summary>
public sealed record CreateThingGroupResult(string ThingGroupName, string ThingGroupArn, string ThingGroupId);

/// <summary>CreateThingGroup's body.</summary>
public sealed record CreateThingGroupRequest
{
    public string? ParentGroupName { get; init; }

    public string? ThingGroupDescription { get; init; }

    public IReadOnlyDictionary<string, string> Attributes { get; init; } = new Dictionary<string, string>();
}

/// <summary>UpdateThingGroup's body: what is null stays as it is.</summary>
public sealed record UpdateThingGroupRequest
{
    public string? ThingGroupDescription { get; init; }

    /// <summary>Null leaves the attributes as they are.</summary>
    public IReadOnlyDictionary<string, string>? Attributes { get; init; }

    /// <summary>Merge into the stored attributes ("" removes one) instead of replacing them all.</summary>
    public bool Merge { get; init; }

    public long? ExpectedVersion { get; init; }
}

/// <summary>UpdateThingGroup's answer: the group's new version.</summary>
public sealed record UpdateThingGroupResult(long Version);
