using System.Runtime.CompilerServices;

namespace IoTServerless.Core.Security.Policies;

/// <summary>A policy document with the name it is stored under.</summary>
public sealed record NamedPolicyDocument(string PolicyName, PolicyDocument Document);

public enum AuthorizationOutcome
{
    ImplicitDeny,
    Allowed,
    ExplicitDeny,
}

/// <summary>The outcome of one check and the statement that decided it (none for an implicit deny).</summary>
public readonly record struct AuthorizationDecision(AuthorizationOutcome Outcome, string? PolicyName, int StatementIndex, string? Sid)
{
    public static readonly AuthorizationDecision ImplicitDeny = new(AuthorizationOutcome.ImplicitDeny, null, -1, null);

    public bool IsAllowed => Outcome == AuthorizationOutcome.Allowed;

    public override string ToString() => Outcome == AuthorizationOutcome.ImplicitDeny
        ? "ImplicitDeny (no statement allows it)"
        : $"{Outcome} by policy '{PolicyName}' statement {StatementIndex}{(Sid is null ? "" : $" ({Sid})")}";
}

/// <summary>A statement that matched a request.</summary>
public sealed record MatchedStatement(string PolicyName, int StatementIndex, string? Sid, PolicyEffect Effect);

/// <summary>Every statement that matched, for TestAuthorization.</summary>
public sealed record AuthorizationExplanation(AuthorizationDecision Decision, IReadOnlyList<MatchedStatement> Allowing, IReadOnlyList<MatchedStatement> Denying);

/// <summary>
/// The policies of one principal, compiled for one connection: variables resolved, conditions
/// decided, action patterns turned into bit masks and resources into <see cref="GlobPattern"/>s,
/// indexed by action. <see cref="Authorize(PolicyAction, ReadOnlySpan{char})"/> allocates nothing.
/// Resources are matched on their part after <c>arn:aws:iot:{region}:{account}:</c>: the region
/// and account of policy ARNs and of checked resources are not compared (one platform, one account).
/// </summary>
public sealed class CompiledPolicySet
{
    readonly CompiledStatement[][] _deny;
    readonly CompiledStatement[][] _allow;

    CompiledPolicySet(IReadOnlyList<string> policyNames, CompiledStatement[][] deny, CompiledStatement[][] allow)
    {
        PolicyNames = policyNames;
        _deny = deny;
        _allow = allow;
    }

    public static readonly CompiledPolicySet Empty = Compile([], PolicyContext.Empty);

    /// <summary>The names of the compiled policies, in the order given.</summary>
    public IReadOnlyList<string> PolicyNames { get; }

    /// <summary>
    /// Statements that depend on nothing about the connection (no condition, no policy variable)
    /// compile to the same thing for every connection: compiled once per parsed statement and shared
    /// by every set compiled from it (stored documents are parsed once, <see cref="PolicyDocument.ParseShared"/>).
    /// </summary>
    static readonly ConditionalWeakTable<PolicyStatement, CompiledStatement> s_shared = new();

    public static CompiledPolicySet Compile(IEnumerable<NamedPolicyDocument> policies, PolicyContext context)
    {
        var count = PolicyActions.All.Count;
        var deny = new List<CompiledStatement>?[count];
        var allow = new List<CompiledStatement>?[count];
        var names = new List<string>();
        foreach (var policy in policies)
        {
            names.Add(policy.PolicyName);
            var statements = policy.Document.Statements;
            for (var i = 0; i < statements.Count; i++)
            {
                if (CompileOrShare(policy.PolicyName, i, statements[i], context) is not { } compiled)
                {
                    continue;
                }
                var mask = statements[i].NotAction ? ~statements[i].ActionMask & PolicyActions.AllMask : statements[i].ActionMask;
                var target = statements[i].Effect == PolicyEffect.Deny ? deny : allow;
                for (var a = 0; a < count; a++)
                {
                    if ((mask & (1UL << a)) != 0)
                    {
                        (target[a] ??= []).Add(compiled);
                    }
                }
            }
        }
        return new CompiledPolicySet(names, ToArrays(deny), ToArrays(allow));
    }

    static CompiledStatement[][] ToArrays(List<CompiledStatement>?[] lists)
    {
        var arrays = new CompiledStatement[lists.Length][];
        for (var a = 0; a < lists.Length; a++)
        {
            arrays[a] = lists[a] is { } list ? [.. list] : [];
        }
        return arrays;
    }

    static CompiledStatement? CompileOrShare(string policyName, int index, PolicyStatement statement, PolicyContext context)
    {
        if (statement.Conditions.Count > 0 || statement.Resources.Any(r => r.Pattern.HasVariables))
        {
            return CompiledStatement.Compile(policyName, index, statement, context);
        }
        if (s_shared.TryGetValue(statement, out var shared) && shared.PolicyName == policyName && shared.StatementIndex == index)
        {
            return shared;
        }
        var compiled = CompiledStatement.Compile(policyName, index, statement, context);
        if (compiled is not null)
        {
            s_shared.AddOrUpdate(statement, compiled);
        }
        return compiled;
    }

    /// <summary>
    /// Deny by default; an Allow grants; any matching Deny wins. <paramref name="resource"/> is an
    /// ARN (<c>arn:aws:iot:{region}:{account}:topic/a/b</c>) or its resource part (<c>topic/a/b</c>).
    /// </summary>
    public AuthorizationDecision Authorize(PolicyAction action, ReadOnlySpan<char> resource)
    {
        var name = ResourcePart(resource);
        foreach (var statement in _deny[(int)action])
        {
            if (statement.Matches(name))
            {
                return new AuthorizationDecision(AuthorizationOutcome.ExplicitDeny, statement.PolicyName, statement.StatementIndex, statement.Sid);
            }
        }
        foreach (var statement in _allow[(int)action])
        {
            if (statement.Matches(name))
            {
                return new AuthorizationDecision(AuthorizationOutcome.Allowed, statement.PolicyName, statement.StatementIndex, statement.Sid);
            }
        }
        return AuthorizationDecision.ImplicitDeny;
    }

    /// <summary>Checks <c>{resourceType}/{resourceName}</c> (e.g. "topic", "a/b") without building the string on the heap.</summary>
    public AuthorizationDecision Authorize(PolicyAction action, string resourceType, ReadOnlySpan<char> resourceName)
    {
        var length = resourceType.Length + 1 + resourceName.Length;
        Span<char> buffer = length <= 512 ? stackalloc char[length] : new char[length];
        resourceType.AsSpan().CopyTo(buffer);
        buffer[resourceType.Length] = '/';
        resourceName.CopyTo(buffer[(resourceType.Length + 1)..]);
        return Authorize(action, buffer);
    }

    /// <summary>The string form: <paramref name="action"/> is an action name such as <c>iot:Publish</c>; unknown actions are denied.</summary>
    public AuthorizationDecision Authorize(string action, string resource)
        => PolicyActions.TryParse(action, out var a) ? Authorize(a, resource.AsSpan()) : AuthorizationDecision.ImplicitDeny;

    /// <summary>The decision and every Allow and Deny statement that matched.</summary>
    public AuthorizationExplanation Explain(PolicyAction action, string resource)
    {
        var name = ResourcePart(resource).ToString();
        var denying = _deny[(int)action].Where(s => s.Matches(name)).Select(s => new MatchedStatement(s.PolicyName, s.StatementIndex, s.Sid, PolicyEffect.Deny)).ToList();
        var allowing = _allow[(int)action].Where(s => s.Matches(name)).Select(s => new MatchedStatement(s.PolicyName, s.StatementIndex, s.Sid, PolicyEffect.Allow)).ToList();
        return new AuthorizationExplanation(Authorize(action, resource.AsSpan()), allowing, denying);
    }

    /// <summary>The part after <c>arn:{partition}:{service}:{region}:{account}:</c>; the input itself when it is not an ARN.</summary>
    public static ReadOnlySpan<char> ResourcePart(ReadOnlySpan<char> resource)
    {
        if (!resource.StartsWith("arn:", StringComparison.Ordinal))
        {
            return resource;
        }
        var rest = resource;
        for (var i = 0; i < 5; i++)
        {
            var colon = rest.IndexOf(':');
            if (colon < 0)
            {
                return resource;
            }
            rest = rest[(colon + 1)..];
        }
        return rest;
    }

    sealed class CompiledStatement
    {
        public required string PolicyName { get; init; }
        public required int StatementIndex { get; init; }
        public required string? Sid { get; init; }
        public required bool NotResource { get; init; }
        public required GlobPattern[] Resources { get; init; }

        public bool Matches(ReadOnlySpan<char> resource)
        {
            var any = false;
            foreach (var pattern in Resources)
            {
                if (pattern.IsMatch(resource))
                {
                    any = true;
                    break;
                }
            }
            return any != NotResource;
        }

        /// <summary>
        /// Null when the statement can never apply: a condition does not hold, or (failing closed) a
        /// Resource entry cannot be resolved — it matches nothing — or a NotResource entry of an
        /// Allow cannot be resolved. An unresolvable NotResource entry of a Deny excludes nothing.
        /// </summary>
        public static CompiledStatement? Compile(string policyName, int index, PolicyStatement statement, PolicyContext context)
        {
            foreach (var condition in statement.Conditions)
            {
                if (!PolicyConditions.Evaluate(condition, context, statement.Effect))
                {
                    return null;
                }
            }
            var resources = new List<GlobPattern>();
            foreach (var resource in statement.Resources)
            {
                var glob = resource.Pattern.ToGlob(context);
                if (glob is not null)
                {
                    resources.Add(glob);
                }
                else if (statement.NotResource && statement.Effect == PolicyEffect.Allow)
                {
                    return null;
                }
            }
            if (resources.Count == 0 && !statement.NotResource)
            {
                return null;
            }
            return new CompiledStatement
            {
                PolicyName = policyName,
                StatementIndex = index,
                Sid = statement.Sid,
                NotResource = statement.NotResource,
                Resources = [.. resources],
            };
        }
    }
}
