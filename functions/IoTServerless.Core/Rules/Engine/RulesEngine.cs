using System.Runtime.CompilerServices;
using IoTServerless.Core.Events;
using IoTServerless.Core.Rules.Actions;
using IoTServerless.Core.Rules.Sql;
using IoTServerless.Core.Topics;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Rules.Engine;

/// <summary>
/// Runs the enabled rules over the broker messages of one event batch: finds the rules whose FROM filter
/// matches each message (or, for Basic Ingest <c>$aws/rules/{ruleName}/…</c>, only that rule, with the
/// SQL seeing the topic without the prefix), evaluates WHERE and SELECT, and hands all the batch's
/// invocations of one action kind to that kind's <see cref="IRuleActionHandler"/> in one call.
/// <para>
/// Failures: an action that fails (after its handler's retries) sends the rule's errorAction the AWS
/// failure document. When there is no errorAction or it fails too, a warning is logged and — as AWS does —
/// the message is dropped, unless the failure was an infrastructure error (a handler or a shadow read
/// threw, e.g. storage or the broker unreachable): then the batch throws so the event is redelivered
/// (handlers are idempotent), at most <see cref="RulesOptions.MaxRedeliveries"/> times per message, after
/// which it is dropped with an error log.
/// </para>
/// </summary>
public sealed class RulesEngine(
    RuleCatalog catalog,
    RuleActionHandlers handlers,
    IRuleFunctionServices services,
    IOptions<RulesOptions> options,
    ILogger<RulesEngine> logger) : IDisposable
{
    public const string BasicIngestPrefix = "$aws/rules/";

    readonly MemoryCache _redeliveries = new(new MemoryCacheOptions { SizeLimit = 100_000 });

    /// <summary>One (rule, message) pair a rule's FROM selected.</summary>
    sealed record Work(CompiledRule Rule, BrokerMessage Original, RuleMessage Message)
    {
        public List<RuleActionFailure> Failures { get; } = [];

        public bool Infrastructure { get; set; }
    }

    sealed record Pending(Work Work, string Kind, RuleActionInvocation Invocation);

    /// <summary>
    /// Splits a Basic Ingest topic <c>$aws/rules/{ruleName}/{topic}</c> into the rule name and the topic
    /// the rule's SQL sees; false for other topics.
    /// </summary>
    public static bool TryParseBasicIngest(string topic, out string ruleName, out string innerTopic)
    {
        ruleName = innerTopic = "";
        if (!topic.StartsWith(BasicIngestPrefix, StringComparison.Ordinal))
        {
            return false;
        }
        var rest = topic.AsSpan(BasicIngestPrefix.Length);
        var slash = rest.IndexOf('/');
        ruleName = (slash < 0 ? rest : rest[..slash]).ToString();
        innerTopic = slash < 0 ? "" : rest[(slash + 1)..].ToString();
        return ruleName.Length > 0;
    }

    public async Task RunAsync(IReadOnlyList<BrokerMessage> messages, CancellationToken cancellationToken)
    {
        var set = await catalog.GetAsync(cancellationToken);
        if (set.Rules.Count == 0)
        {
            return;
        }
        var work = Select(set, messages);
        if (work.Count == 0)
        {
            return;
        }
        var outputs = await EvaluateAsync(work, cancellationToken);

        var pending = new List<Pending>();
        for (var i = 0; i < work.Count; i++)
        {
            if (outputs[i] is not { Matched: true } evaluation)
            {
                continue;
            }
            foreach (var action in work[i].Rule.Rule.Actions)
            {
                pending.Add(new Pending(work[i], KindOf(action), new RuleActionInvocation(work[i].Rule.Name, action, work[i].Message, evaluation.Output)));
            }
        }
        foreach (var (item, failure, infrastructure) in await ExecuteAsync(pending, cancellationToken))
        {
            item.Failures.Add(failure);
            item.Infrastructure |= infrastructure;
        }

        var failed = work.Where(w => w.Failures.Count > 0).ToList();
        if (failed.Count == 0)
        {
            return;
        }
        var errorPending = new List<Pending>();
        var unhandled = new List<Work>();
        foreach (var item in failed)
        {
            if (item.Rule.Rule.ErrorAction is not { } errorAction || item.Failures.Any(f => f.FailedAction == "Sql"))
            {
                unhandled.Add(item);
                continue;
            }
            var document = new RuleFailure
            {
                RuleName = item.Rule.Name,
                Topic = item.Original.Topic,
                ClientId = item.Original.ClientId,
                Base64OriginalPayload = Convert.ToBase64String(item.Original.Payload),
                Failures = item.Failures,
            };
            errorPending.Add(new Pending(item, KindOf(errorAction), new RuleActionInvocation(item.Rule.Name, errorAction, item.Message, TopicRuleJson.SerializeFailure(document))));
        }
        var errorFailures = await ExecuteAsync(errorPending, cancellationToken);
        foreach (var (item, failure, infrastructure) in errorFailures)
        {
            logger.LogWarning("The errorAction of rule {RuleName} failed for message {MessageId}: {FailedAction} {FailedResource}: {ErrorMessage}",
                item.Rule.Name, item.Original.Id, failure.FailedAction, failure.FailedResource, failure.ErrorMessage);
            item.Infrastructure |= infrastructure;
            if (!unhandled.Contains(item))
            {
                unhandled.Add(item);
            }
        }
        foreach (var item in errorPending.Select(p => p.Work).Except(unhandled))
        {
            logger.LogInformation("Rule {RuleName} failed for message {MessageId} on {Topic}; its errorAction took the failure document",
                item.Rule.Name, item.Original.Id, item.Original.Topic);
        }
        Unhandled(unhandled);
    }

    /// <summary>The (rule, message) pairs of the batch.</summary>
    static List<Work> Select(RuleSet set, IReadOnlyList<BrokerMessage> messages)
    {
        var work = new List<Work>();
        foreach (var message in messages)
        {
            if (TryParseBasicIngest(message.Topic, out var ruleName, out var inner))
            {
                if (set.Find(ruleName) is { } rule)
                {
                    work.Add(new Work(rule, message, ToRuleMessage(message, inner)));
                }
                continue;
            }
            RuleMessage? ruleMessage = null;
            foreach (var rule in set.Matching(message.Topic))
            {
                ruleMessage ??= ToRuleMessage(message, message.Topic);
                work.Add(new Work(rule, message, ruleMessage.Value));
            }
        }
        return work;
    }

    static RuleMessage ToRuleMessage(BrokerMessage message, string topic)
        => new(topic, message.Payload, message.ClientId, message.Principal, message.Timestamp, message.Id);

    async Task<RuleEvaluation?[]> EvaluateAsync(List<Work> work, CancellationToken cancellationToken)
    {
        var outputs = new RuleEvaluation?[work.Count];
        var needServices = new List<int>();
        for (var i = 0; i < work.Count; i++)
        {
            if (work[i].Rule.Query.NeedsServices)
            {
                needServices.Add(i);
                continue;
            }
            try
            {
                outputs[i] = work[i].Rule.Query.Evaluate(work[i].Message);
            }
            catch (Exception ex)
            {
                EvaluationFailed(work[i], ex);
            }
        }
        if (needServices.Count > 0)
        {
            await Parallel.ForEachAsync(needServices,
                new ParallelOptions { MaxDegreeOfParallelism = options.Value.MaxConcurrentEvaluations, CancellationToken = cancellationToken },
                async (i, token) =>
                {
                    try
                    {
                        outputs[i] = await work[i].Rule.Query.EvaluateAsync(work[i].Message, services, token);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
                    {
                        EvaluationFailed(work[i], ex);
                    }
                });
        }
        return outputs;
    }

    void EvaluationFailed(Work item, Exception ex)
    {
        logger.LogWarning(ex, "Rule {RuleName} could not be evaluated over message {MessageId} on {Topic}", item.Rule.Name, item.Original.Id, item.Original.Topic);
        lock (item.Failures)
        {
            item.Failures.Add(new RuleActionFailure("Sql", item.Rule.Query.TopicFilter, ex.Message));
            item.Infrastructure = true;
        }
    }

    static string KindOf(RuleAction action)
    {
        var kinds = RuleActionKinds.Set(action);
        return kinds.Count == 1 ? kinds[0] : "";
    }

    /// <summary>Runs the invocations, one handler call per kind (kinds concurrently); returns the failures.</summary>
    async Task<List<(Work Work, RuleActionFailure Failure, bool Infrastructure)>> ExecuteAsync(List<Pending> pending, CancellationToken cancellationToken)
    {
        var failures = new List<(Work, RuleActionFailure, bool)>();
        if (pending.Count == 0)
        {
            return failures;
        }
        var byKind = pending.GroupBy(p => p.Kind, StringComparer.Ordinal).ToList();
        var results = await Task.WhenAll(byKind.Select(group => RunKindAsync(group.Key, [.. group], cancellationToken)));
        foreach (var result in results)
        {
            failures.AddRange(result);
        }
        return failures;
    }

    async Task<List<(Work, RuleActionFailure, bool)>> RunKindAsync(string kind, List<Pending> group, CancellationToken cancellationToken)
    {
        var failures = new List<(Work, RuleActionFailure, bool)>();
        var handler = handlers.Find(kind);
        if (handler is null)
        {
            foreach (var p in group)
            {
                failures.Add((p.Work, new RuleActionFailure(kind.Length == 0 ? "UnknownAction" : RuleActionKinds.FailureName(kind), "", $"No handler for '{kind}' actions is registered."), false));
            }
            return failures;
        }
        IReadOnlyList<string?> errors;
        var infrastructure = false;
        try
        {
            errors = await handler.ExecuteAsync([.. group.Select(p => p.Invocation)], cancellationToken);
            if (errors.Count != group.Count)
            {
                throw new InvalidOperationException($"The {kind} handler returned {errors.Count} results for {group.Count} invocations.");
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(ex, "The {ActionKind} action handler failed for {InvocationCount} invocations", kind, group.Count);
            errors = [.. group.Select(_ => ex.Message)];
            infrastructure = true;
        }
        for (var i = 0; i < group.Count; i++)
        {
            if (errors[i] is { } error)
            {
                var action = group[i].Invocation.Action;
                string resource;
                try
                {
                    resource = handler.Resource(action);
                }
                catch (Exception)
                {
                    resource = "";
                }
                failures.Add((group[i].Work, new RuleActionFailure(RuleActionKinds.FailureName(kind), resource, error), infrastructure));
            }
        }
        return failures;
    }

    /// <summary>Failures no errorAction took: logged; redelivered (bounded) when an infrastructure error caused them.</summary>
    void Unhandled(List<Work> unhandled)
    {
        var redeliver = new List<string>();
        foreach (var item in unhandled)
        {
            foreach (var failure in item.Failures)
            {
                logger.LogWarning("Rule {RuleName} failed for message {MessageId} on {Topic} from {ClientId}: {FailedAction} {FailedResource}: {ErrorMessage}",
                    item.Rule.Name, item.Original.Id, item.Original.Topic, item.Original.ClientId, failure.FailedAction, failure.FailedResource, failure.ErrorMessage);
            }
            if (!item.Infrastructure)
            {
                continue;
            }
            var key = item.Original.Id;
            var attempts = _redeliveries.GetOrCreate(key, entry =>
            {
                entry.Size = 1;
                entry.SlidingExpiration = TimeSpan.FromHours(1);
                return new StrongBox<int>();
            })!;
            var attempt = Interlocked.Increment(ref attempts.Value);
            if (attempt <= options.Value.MaxRedeliveries)
            {
                redeliver.Add(key);
            }
            else
            {
                logger.LogError("Rule {RuleName} gave up on message {MessageId} on {Topic} after {Attempts} failed deliveries; it is dropped",
                    item.Rule.Name, item.Original.Id, item.Original.Topic, attempt);
            }
        }
        if (redeliver.Count > 0)
        {
            throw new RuleExecutionException($"{redeliver.Count} messages failed in rule actions with infrastructure errors and no errorAction took them; the event is to be redelivered.", redeliver);
        }
    }

    public void Dispose() => _redeliveries.Dispose();
}

/// <summary>Thrown so the event batch is redelivered: rule actions failed with infrastructure errors.</summary>
public sealed class RuleExecutionException(string message, IReadOnlyList<string> messageIds) : Exception(message)
{
    public IReadOnlyList<string> MessageIds { get; } = messageIds;
}
