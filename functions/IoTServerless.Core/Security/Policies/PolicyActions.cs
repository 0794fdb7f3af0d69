namespace IoTServerless.Core.Security.Policies;

/// <summary>The AWS IoT data-plane actions a policy can allow or deny.</summary>
public enum PolicyAction
{
    Connect,
    Publish,
    Subscribe,
    Receive,
    RetainPublish,
    GetThingShadow,
    UpdateThingShadow,
    DeleteThingShadow,
    ListNamedShadowsForThing,
    DescribeJobExecution,
    GetPendingJobExecutions,
    StartNextPendingJobExecution,
    UpdateJobExecution,
}

/// <summary>Action names (<c>iot:Publish</c>) and action patterns (<c>iot:*</c>, <c>iot:Get*</c>) as bit masks.</summary>
public static class PolicyActions
{
    /// <summary>Every action, in <see cref="PolicyAction"/> order.</summary>
    public static readonly IReadOnlyList<PolicyAction> All = Enum.GetValues<PolicyAction>();

    /// <summary>The mask with every known action's bit set.</summary>
    public static readonly ulong AllMask = (1UL << All.Count) - 1;

    static readonly string[] Names = [.. All.Select(a => "iot:" + a)];

    /// <summary>The action's name as policies write it, e.g. <c>iot:Publish</c>.</summary>
    public static string NameOf(PolicyAction action) => Names[(int)action];

    public static ulong Bit(PolicyAction action) => 1UL << (int)action;

    /// <summary>Parses an exact action name (case-insensitive, as in IAM), e.g. <c>iot:publish</c>.</summary>
    public static bool TryParse(ReadOnlySpan<char> name, out PolicyAction action)
    {
        for (var i = 0; i < Names.Length; i++)
        {
            if (name.Equals(Names[i], StringComparison.OrdinalIgnoreCase))
            {
                action = (PolicyAction)i;
                return true;
            }
        }
        action = default;
        return false;
    }

    /// <summary>
    /// The actions an <c>Action</c> entry matches: an exact name or a pattern with <c>*</c>/<c>?</c>,
    /// case-insensitive. Zero when it matches no known action.
    /// </summary>
    public static ulong MaskOf(string pattern)
    {
        var glob = GlobPattern.Parse(pattern.ToLowerInvariant());
        ulong mask = 0;
        for (var i = 0; i < Names.Length; i++)
        {
            if (glob.IsMatch(Names[i].ToLowerInvariant()))
            {
                mask |= 1UL << i;
            }
        }
        return mask;
    }

    /// <summary>The actions of an <c>actionType</c> as TestAuthorization names them (PUBLISH, …) or an action name.</summary>
    public static bool TryParseActionType(string? actionType, out PolicyAction action)
    {
        switch (actionType?.ToUpperInvariant())
        {
            case "PUBLISH":
                action = PolicyAction.Publish;
                return true;
            case "SUBSCRIBE":
                action = PolicyAction.Subscribe;
                return true;
            case "RECEIVE":
                action = PolicyAction.Receive;
                return true;
            case "CONNECT":
                action = PolicyAction.Connect;
                return true;
            default:
                return TryParse(actionType, out action);
        }
    }
}
