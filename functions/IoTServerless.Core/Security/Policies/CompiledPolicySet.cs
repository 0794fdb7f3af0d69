using System.Collections.Concurrent;
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
/// <remarks>
/// What does not depend on the connection is compiled once per set of documents (<see cref="Plan"/>)
/// and shared by every connection with the same policies: a fleet of devices with one policy set
/// compiles only its statements with policy variables or conditions per connection, and holds only those.
/// </remarks>
public sealed class CompiledPolicySet
{
    /// <summary>
    /// Statements that depend on nothing about the connection (no condition, no policy variable)
    /// compile to the same thing for every connection: compiled once per parsed statement and shared
    /// by every set compiled from it (stored documents are parsed once, <see cref="PolicyDocument.ParseShared"/>).
    /// </summary>
    static readonly ConditionalWeakTable<PolicyStatement, CompiledStatement> s_shared = new();

    /// <summary>Plans by the documents they were made from (names and parsed documents, by reference).</summary>
    static readonly ConcurrentDictionary<PlanKey, Plan> s_plans = new();
    const int MaxPlans = 4096;

    readonly Plan _plan;
    readonly Own[] _own;
    readonly ulong _ownDeny;
    readonly ulong _ownAllow;

    CompiledPolicySet(Plan plan, Own[] own)
    {
        _plan = plan;
        _own = own;
        foreach (var statement in own)
        {
            if (statement.Effect == PolicyEffect.Deny)
            {
                _ownDeny |= statement.Mask;
            }
            else
            {
                _ownAllow |= statement.Mask;
            }
        }
    }

    public static readonly CompiledPolicySet Empty = Compile([], PolicyContext.Empty);

    /// <summary>The names of the compiled policies, in the order given.</summary>
    public IReadOnlyList<string> PolicyNames => _plan.PolicyNames;

    public static CompiledPolicySet Compile(IEnumerable<NamedPolicyDocument> policies, PolicyContext context)
    {
        var plan = PlanFor(policies as IReadOnlyList<NamedPolicyDocument> ?? [.. policies]);
        if (plan.ContextDependent.Length == 0)
        {
            return plan.SharedSet;
        }
        var own = new List<Own>(plan.ContextDependent.Length);
        foreach (var dependent in plan.ContextDependent)
        {
            if (CompiledStatement.Compile(dependent.PolicyName, dependent.Index, dependent.Statement, context) is { } compiled)
            {
                own.Add(new Own(compiled, dependent.Ordinal, dependent.Mask, dependent.Statement.Effect));
            }
        }
        return own.Count == 0 ? plan.SharedSet : new CompiledPolicySet(plan, [.. own]);
    }

    static Plan PlanFor(IReadOnlyList<NamedPolicyDocument> policies)
    {
        if (s_plans.TryGetValue(new PlanKey(policies), out var plan))
        {
            return plan;
        }
        plan = new Plan([.. policies]);
        if (s_plans.Count >= MaxPlans)
        {
            s_plans.Clear(); // policy sets changed a lot: start over rather than keep every old one
        }
        return s_plans.GetOrAdd(new PlanKey(plan.Policies), plan);
    }

    static ulong MaskOf(PolicyStatement statement)
        => statement.NotAction ? ~statement.ActionMask & PolicyActions.AllMask : statement.ActionMask;

    static CompiledStatement? CompileOrShare(string policyName, int index, PolicyStatement statement)
    {
        if (s_shared.TryGetValue(statement, out var shared) && shared.PolicyName == policyName && shared.StatementIndex == index)
        {
            return shared;
        }
        var compiled = CompiledStatement.Compile(policyName, index, statement, PolicyContext.Empty);
        if (compiled is not null)
        {
            s_shared.AddOrUpdate(statement, compiled);
        }
        return compiled;
    }

    /// <summary>
    /// Deny by default; an Allow grants; any matching Deny wins. <paramref name="resource"/> is an
    /// ARN (<c>arn:aws:iot:{region}:{account}:topic/a/b</c>) or its resource part (<c>topic/a/b</c>).
    /// The first matching statement in document order is the one reported.
    /// </summary>
    public AuthorizationDecision Authorize(PolicyAction action, ReadOnlySpan<char> resource)
    {
        var name = ResourcePart(resource);
        var bit = 1UL << (int)action;
        if (FirstMatch(_plan.Deny[(int)action], (_ownDeny & bit) != 0 ? _own : null, bit, PolicyEffect.Deny, name) is { } deny)
        {
            return new AuthorizationDecision(AuthorizationOutcome.ExplicitDeny, deny.PolicyName, deny.StatementIndex, deny.Sid);
        }
        if (FirstMatch(_plan.Allow[(int)action], (_ownAllow & bit) != 0 ? _own : null, bit, PolicyEffect.Allow, name) is { } allow)
        {
            return new AuthorizationDecision(AuthorizationOutcome.Allowed, allow.PolicyName, allow.StatementIndex, allow.Sid);
        }
        return AuthorizationDecision.ImplicitDeny;
    }

    /// <summary>
    /// The first statement that matches, in document order: the shared ones for the action and, when
    /// <paramref name="own"/> is given, this connection's own ones that have the action and effect, merged.
    /// </summary>
    static CompiledStatement? FirstMatch(Shared[] shared, Own[]? own, ulong bit, PolicyEffect effect, ReadOnlySpan<char> name)
    {
        var i = 0;
        if (own is not null)
        {
            foreach (var statement in own)
            {
                if (statement.Effect != effect || (statement.Mask & bit) == 0)
                {
                    continue;
                }
                for (; i < shared.Length && shared[i].Ordinal < statement.Ordinal; i++)
                {
                    if (shared[i].Statement.Matches(name))
                    {
                        return shared[i].Statement;
                    }
                }
                if (statement.Statement.Matches(name))
                {
                    return statement.Statement;
                }
            }
        }
        for (; i < shared.Length; i++)
        {
            if (shared[i].Statement.Matches(name))
            {
                return shared[i].Statement;
            }
        }
        return null;
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

    /// <summary>The decision and every Allow and Deny statement that matched, in document order.</summary>
    public AuthorizationExplanation Explain(PolicyAction action, string resource)
    {
        var name = ResourcePart(resource).ToString();
        var bit = 1UL << (int)action;
        var matched = new List<(int Ordinal, MatchedStatement Statement)>();
        void Check(CompiledStatement statement, int ordinal, PolicyEffect effect)
        {
            if (statement.Matches(name))
            {
                matched.Add((ordinal, new MatchedStatement(statement.PolicyName, statement.StatementIndex, statement.Sid, effect)));
            }
        }
        foreach (var shared in _plan.Deny[(int)action])
        {
            Check(shared.Statement, shared.Ordinal, PolicyEffect.Deny);
        }
        foreach (var shared in _plan.Allow[(int)action])
        {
            Check(shared.Statement, shared.Ordinal, PolicyEffect.Allow);
        }
        foreach (var own in _own)
        {
            if ((own.Mask & bit) != 0)
            {
                Check(own.Statement, own.Ordinal, own.Effect);
            }
        }
        matched.Sort((x, y) => x.Ordinal.CompareTo(y.Ordinal));
        return new AuthorizationExplanation(Authorize(action, resource.AsSpan()),
            [.. matched.Where(m => m.Statement.Effect == PolicyEffect.Allow).Select(m => m.Statement)],
            [.. matched.Where(m => m.Statement.Effect == PolicyEffect.Deny).Select(m => m.Statement)]);
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

    /// <summary>A shared statement in a plan, with its place in document order (across all the policies).</summary>
    readonly record struct Shared(CompiledStatement Statement, int Ordinal);

    /// <summary>A statement compiled for this connection, with its place in document order, actions and effect.</summary>
    readonly record struct Own(CompiledStatement Statement, int Ordinal, ulong Mask, PolicyEffect Effect);

    /// <summary>A statement a plan leaves to each connection: it has a condition or a policy variable.</summary>
    sealed record Dependent(string PolicyName, int Index, PolicyStatement Statement, int Ordinal, ulong Mask);

    /// <summary>
    /// One set of documents compiled as far as it goes without a connection: the shared statements by
    /// action and effect, in document order, and the statements each connection compiles itself.
    /// </summary>
    sealed class Plan
    {
        public Plan(NamedPolicyDocument[] policies)
        {
            Policies = policies;
            PolicyNames = [.. policies.Select(p => p.PolicyName)];
            var count = PolicyActions.All.Count;
            var deny = new List<Shared>?[count];
            var allow = new List<Shared>?[count];
            var dependent = new List<Dependent>();
            var ordinal = 0;
            foreach (var policy in policies)
            {
                var statements = policy.Document.Statements;
                for (var i = 0; i < statements.Count; i++, ordinal++)
                {
                    var statement = statements[i];
                    var mask = MaskOf(statement);
                    if (statement.Conditions.Count > 0 || statement.Resources.Any(r => r.Pattern.HasVariables))
                    {
                        dependent.Add(new Dependent(policy.PolicyName, i, statement, ordinal, mask));
                        continue;
                    }
                    if (CompileOrShare(policy.PolicyName, i, statement) is not { } compiled)
                    {
                        continue;
                    }
                    var target = statement.Effect == PolicyEffect.Deny ? deny : allow;
                    for (var a = 0; a < count; a++)
                    {
                        if ((mask & (1UL << a)) != 0)
                        {
                            (target[a] ??= []).Add(new Shared(compiled, ordinal));
                        }
                    }
                }
            }
            Deny = ToArrays(deny);
            Allow = ToArrays(allow);
            ContextDependent = [.. dependent];
            SharedSet = new CompiledPolicySet(this, []);
        }

        public NamedPolicyDocument[] Policies { get; }

        public IReadOnlyList<string> PolicyNames { get; }

        public Shared[][] Deny { get; }

        public Shared[][] Allow { get; }

        public Dependent[] ContextDependent { get; }

        /// <summary>The set every connection gets when none of its statements depends on the connection.</summary>
        public CompiledPolicySet SharedSet { get; }

        static Shared[][] ToArrays(List<Shared>?[] lists)
        {
            var arrays = new Shared[lists.Length][];
            for (var a = 0; a < lists.Length; a++)
            {
                arrays[a] = lists[a] is { } list ? [.. list] : [];
            }
            return arrays;
        }
    }

    /// <summary>The documents of a plan: their names, and the parsed documents by reference (they are immutable).</summary>
    readonly struct PlanKey(IReadOnlyList<NamedPolicyDocument> policies) : IEquatable<PlanKey>
    {
        public IReadOnlyList<NamedPolicyDocument> Policies { get; } = policies;

        public bool Equals(PlanKey other)
        {
            if (Policies.Count != other.Policies.Count)
            {
                return false;
            }
            for (var i = 0; i < Policies.Count; i++)
            {
                if (!ReferenceEquals(Policies[i].Document, other.Policies[i].Document)
                    || !string.Equals(Policies[i].PolicyName, other.Policies[i].PolicyName, StringComparison.Ordinal))
                {
                    return false;
                }
            }
            return true;
        }

        public override bool Equals(object? obj) => obj is PlanKey other && Equals(other);

        public override int GetHashCode()
        {
            var hash = new HashCode();
            foreach (var policy in Policies)
            {
                hash.Add(policy.PolicyName, StringComparer.Ordinal);
                hash.Add(RuntimeHelpers.GetHashCode(policy.Document));
            }
            return hash.ToHashCode();
        }
    }
}
