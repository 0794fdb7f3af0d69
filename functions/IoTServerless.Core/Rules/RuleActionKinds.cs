namespace IoTServerless.Core.Rules;

/// <summary>The action kinds: each one's key in the rule JSON (what <see cref="Actions.IRuleActionHandler.Kind"/> returns).</summary>
public static class RuleActionKinds
{
    public const string Table = "table";
    public const string Republish = "republish";
    public const string Http = "http";
    public const string Function = "function";
    public const string EventGrid = "eventGrid";
    public const string Queue = "queue";
    public const string Blob = "blob";

    public static readonly IReadOnlyList<string> All = [Table, Republish, Http, Function, EventGrid, Queue, Blob];

    /// <summary>The kinds set on <paramref name="action"/> (exactly one for a valid action).</summary>
    public static IReadOnlyList<string> Set(RuleAction action)
    {
        var kinds = new List<string>(1);
        if (action.Table is not null) kinds.Add(Table);
        if (action.Republish is not null) kinds.Add(Republish);
        if (action.Http is not null) kinds.Add(Http);
        if (action.Function is not null) kinds.Add(Function);
        if (action.EventGrid is not null) kinds.Add(EventGrid);
        if (action.Queue is not null) kinds.Add(Queue);
        if (action.Blob is not null) kinds.Add(Blob);
        return kinds;
    }

    /// <summary>The one kind set on a valid action.</summary>
    public static string Of(RuleAction action)
    {
        var kinds = Set(action);
        return kinds.Count == 1 ? kinds[0] : throw new ArgumentException($"The action sets {kinds.Count} kinds; exactly one is required.", nameof(action));
    }

    /// <summary>The name AWS failure documents use for an action (<c>failedAction</c>): <c>TableAction</c>, <c>RepublishAction</c>, …</summary>
    public static string FailureName(string kind) => char.ToUpperInvariant(kind[0]) + kind[1..] + "Action";
}
