using Azure;
using IoTServerless.Core.Rules.Sql;
using IoTServerless.Core.Topics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Rules.Engine;

/// <summary>An enabled rule with its SQL compiled (once per stored version of the rule).</summary>
public sealed record CompiledRule(TopicRule Rule, RuleQuery Query, ETag ETag)
{
    public string Name => Rule.RuleName;
}

/// <summary>The enabled rules at one moment.</summary>
public sealed class RuleSet
{
    public static readonly RuleSet Empty = new([]);

    readonly Dictionary<string, CompiledRule> _byName;

    readonly TopicFilterIndex<CompiledRule> _byFilter;

    public RuleSet(IReadOnlyList<CompiledRule> rules)
    {
        Rules = rules;
        _byName = rules.ToDictionary(r => r.Name, StringComparer.Ordinal);
        _byFilter = new TopicFilterIndex<CompiledRule>(rules.Select(r => (r.Query.TopicFilter, r)));
    }

    public IReadOnlyList<CompiledRule> Rules { get; }

    /// <summary>The rules whose FROM filter matches <paramref name="topic"/> (not for Basic Ingest topics).</summary>
    public IEnumerable<CompiledRule> Matching(string topic) => _byFilter.Matches(topic);

    public CompiledRule? Find(string ruleName) => _byName.GetValueOrDefault(ruleName);
}

/// <summary>
/// The engine's compiled rule set: read from the table when it is older than
/// <see cref="RulesOptions.RefreshMilliseconds"/> or after <see cref="Invalidate"/> (this process changed
/// a rule). A rule's SQL is compiled once per stored version (ETag). When the table cannot be read the
/// last set stays in use.
/// </summary>
public sealed class RuleCatalog(TopicRuleStore store, IOptions<RulesOptions> options, TimeProvider time, ILogger<RuleCatalog> logger) : IDisposable
{
    sealed record Snapshot(RuleSet Set, long LoadedAt, long Generation);

    readonly SemaphoreSlim _gate = new(1, 1);
    volatile Snapshot? _snapshot;
    long _generation;

    /// <summary>Makes the next <see cref="GetAsync"/> read the table.</summary>
    public void Invalidate() => Interlocked.Increment(ref _generation);

    public async ValueTask<RuleSet> GetAsync(CancellationToken cancellationToken)
    {
        if (Fresh(_snapshot) is { } set)
        {
            return set;
        }
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (Fresh(_snapshot) is { } again)
            {
                return again;
            }
            var generation = Interlocked.Read(ref _generation);
            var previous = _snapshot;
            IReadOnlyList<StoredTopicRule> stored;
            try
            {
                stored = await store.ListEnabledAsync(cancellationToken);
            }
            catch (Exception ex) when (previous is not null && ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Reading the rules failed; the {RuleCount} rules read before stay in use", previous.Set.Rules.Count);
                _snapshot = previous with { LoadedAt = time.GetTimestamp() };
                return previous.Set;
            }
            var compiled = new List<CompiledRule>(stored.Count);
            foreach (var rule in stored)
            {
                if (previous?.Set.Find(rule.Rule.RuleName) is { } known && known.ETag == rule.ETag)
                {
                    compiled.Add(known);
                    continue;
                }
                try
                {
                    compiled.Add(new CompiledRule(rule.Rule, RuleQuery.Compile(rule.Rule.Sql), rule.ETag));
                }
                catch (Exception ex) when (ex is RuleSqlException or NotImplementedException)
                {
                    logger.LogWarning(ex, "Rule {RuleName} is skipped: its SQL does not compile", rule.Rule.RuleName);
                }
            }
            var next = new Snapshot(new RuleSet(compiled), time.GetTimestamp(), generation);
            _snapshot = next;
            return next.Set;
        }
        finally
        {
            _gate.Release();
        }
    }

    RuleSet? Fresh(Snapshot? snapshot)
        => snapshot is not null
           && snapshot.Generation == Interlocked.Read(ref _generation)
           && time.GetElapsedTime(snapshot.LoadedAt).TotalMilliseconds < options.Value.RefreshMilliseconds
            ? snapshot.Set
            : null;

    public void Dispose() => _gate.Dispose();
}
