namespace IoTServerless.Core.Registry;

/// <summary>
/// The registry's tables (besides <see cref="Storage.TableNames.Things"/>). Keys are names that
/// match <c>[a-zA-Z0-9:_-]</c>, all legal Table keys, so they are used as they are.
/// </summary>
public static class RegistryTables
{
    /// <summary>PartitionKey = thing type name, RowKey = "".</summary>
    public const string ThingTypes = "ThingTypes";

    /// <summary>PartitionKey = thing group name, RowKey = "".</summary>
    public const string ThingGroups = "ThingGroups";

    /// <summary>Membership by thing: PartitionKey = thing name, RowKey = group name (holds the group's root-to-parent path).</summary>
    public const string ThingGroupsByThing = "ThingGroupsByThing";

    /// <summary>Membership by group: PartitionKey = group name, RowKey = thing name.</summary>
    public const string ThingsByGroup = "ThingsByGroup";
}

/// <summary>AWS-style ARNs of registry resources, in the platform's region and account (<see cref="PlatformOptions"/>).</summary>
public sealed class RegistryArns(string region, string account)
{
    /// <summary>With <see cref="PlatformOptions"/>' defaults.</summary>
    public static readonly RegistryArns Default = new(new PlatformOptions());

    public RegistryArns(PlatformOptions options)
        : this(options.Region, options.AccountId)
    {
    }

    public string Thing(string name) => $"arn:aws:iot:{region}:{account}:thing/{name}";

    public string ThingType(string name) => $"arn:aws:iot:{region}:{account}:thingtype/{name}";

    public string ThingGroup(string name) => $"arn:aws:iot:{region}:{account}:thinggroup/{name}";

    public GroupNameAndArn Group(string name) => new(name, ThingGroup(name));
}
