namespace IoTServerless.Core.Shadows;

/// <summary>The three requests a device can publish to a shadow.</summary>
public enum ShadowOperation
{
    Get,
    Update,
    Delete,
}

/// <summary>
/// A shadow request topic: <c>$aws/things/{thing}/shadow/{get|update|delete}</c> (classic shadow) or
/// <c>$aws/things/{thing}/shadow/name/{shadow}/{get|update|delete}</c> (named shadow), and the
/// response topics the platform answers on.
/// </summary>
public readonly record struct ShadowTopic(string ThingName, string? ShadowName, ShadowOperation Operation)
{
    /// <summary>The filter that covers every shadow request topic (and, beyond them, the response topics, which <see cref="TryParse"/> refuses).</summary>
    public const string RequestFilter = "$aws/things/+/shadow/#";

    const string ThingsPrefix = "$aws/things/";

    /// <summary>
    /// Parses a request topic. False for anything else: response topics (<c>…/update/accepted</c>),
    /// unknown operations, and thing or shadow names outside the contract's patterns.
    /// </summary>
    public static bool TryParse(string? topic, out ShadowTopic result)
    {
        result = default;
        if (topic is null || !topic.StartsWith(ThingsPrefix, StringComparison.Ordinal))
        {
            return false;
        }
        var levels = topic[ThingsPrefix.Length..].Split('/');
        string? shadowName;
        string operation;
        if (levels.Length == 3 && levels[1] == "shadow")
        {
            shadowName = null;
            operation = levels[2];
        }
        else if (levels.Length == 5 && levels[1] == "shadow" && levels[2] == "name")
        {
            shadowName = levels[3];
            operation = levels[4];
            if (!Shadows.ShadowName.IsValid(shadowName))
            {
                return false;
            }
        }
        else
        {
            return false;
        }
        if (!Registry.ThingName.IsValid(levels[0]) || !TryParseOperation(operation, out var op))
        {
            return false;
        }
        result = new ShadowTopic(levels[0], shadowName, op);
        return true;
    }

    /// <summary>The topic this request was published on.</summary>
    public string Request() => Prefix(ThingName, ShadowName) + "/" + OperationName(Operation);

    /// <summary><c>…/{operation}/accepted</c>.</summary>
    public string Accepted() => Request() + "/accepted";

    /// <summary><c>…/{operation}/rejected</c>.</summary>
    public string Rejected() => Request() + "/rejected";

    /// <summary><c>$aws/things/{thing}/shadow</c> or <c>$aws/things/{thing}/shadow/name/{shadow}</c>.</summary>
    public static string Prefix(string thingName, string? shadowName)
        => shadowName is null ? $"{ThingsPrefix}{thingName}/shadow" : $"{ThingsPrefix}{thingName}/shadow/name/{shadowName}";

    /// <summary>The request topic of <paramref name="operation"/> on a shadow.</summary>
    public static string RequestTopic(string thingName, string? shadowName, ShadowOperation operation)
        => new ShadowTopic(thingName, shadowName, operation).Request();

    /// <summary><c>…/update/delta</c> of a shadow.</summary>
    public static string UpdateDelta(string thingName, string? shadowName) => Prefix(thingName, shadowName) + "/update/delta";

    /// <summary><c>…/update/documents</c> of a shadow.</summary>
    public static string UpdateDocuments(string thingName, string? shadowName) => Prefix(thingName, shadowName) + "/update/documents";

    /// <summary>The topic level of an operation: <c>get</c>, <c>update</c> or <c>delete</c>.</summary>
    public static string OperationName(ShadowOperation operation) => operation switch
    {
        ShadowOperation.Get => "get",
        ShadowOperation.Update => "update",
        ShadowOperation.Delete => "delete",
        _ => throw new ArgumentOutOfRangeException(nameof(operation), operation, null),
    };

    static bool TryParseOperation(string level, out ShadowOperation operation)
    {
        switch (level)
        {
            case "get":
                operation = ShadowOperation.Get;
                return true;
            case "update":
                operation = ShadowOperation.Update;
                return true;
            case "delete":
                operation = ShadowOperation.Delete;
                return true;
            default:
                operation = default;
                return false;
        }
    }
}
