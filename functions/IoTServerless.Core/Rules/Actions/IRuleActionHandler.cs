using IoTServerless.Core.Rules.Sql;

namespace IoTServerless.Core.Rules.Actions;

/// <summary>One action's work for one matched message.</summary>
public sealed record RuleActionInvocation(string RuleName, RuleAction Action, RuleMessage Message, ReadOnlyMemory<byte> Output);

/// <summary>
/// Carries out one kind of action (table, republish, http, function, eventGrid, queue, blob) on a
/// real Azure SDK / HTTP client. Given the invocations of one event batch at once so it can batch
/// (e.g. table transactions). Idempotent for a redelivered message; retries transient failures itself.
/// </summary>
public interface IRuleActionHandler
{
    /// <summary>The action's key in the rule JSON: "table", "republish", …</summary>
    string Kind { get; }

    /// <summary>The action's target for failure documents and logs (table name, URL, topic…).</summary>
    string Resource(RuleAction action);

    /// <summary>Checks an action's settings on save; returns the problems (empty when valid), each naming the field.</summary>
    IReadOnlyList<string> Validate(RuleAction action);

    /// <summary>Runs the invocations; returns one entry per invocation, null for success or the error message after retries.</summary>
    Task<IReadOnlyList<string?>> ExecuteAsync(IReadOnlyList<RuleActionInvocation> invocations, CancellationToken cancellationToken);
}
