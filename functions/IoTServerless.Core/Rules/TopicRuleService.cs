using System.Text.RegularExpressions;
using IoTServerless.Core.Registry;
using IoTServerless.Core.Rules.Actions;
using IoTServerless.Core.Rules.Engine;
using IoTServerless.Core.Rules.Sql;
using IoTServerless.Core.Topics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Rules;

/// <summary>
/// AWS IoT's rule control plane (CreateTopicRule, ReplaceTopicRule, GetTopicRule, ListTopicRules,
/// DeleteTopicRule, EnableTopicRule, DisableTopicRule) over <see cref="TopicRuleStore"/>. A rule is
/// validated as a whole before anything is stored: name, SQL version, SQL (compiled), 1–10 actions each
/// with exactly one kind that has a registered handler and passes that handler's checks, and the
/// errorAction likewise. Changes reach this process's engine at once, others within their refresh interval.
/// </summary>
public sealed partial class TopicRuleService(
    TopicRuleStore store,
    RuleActionHandlers handlers,
    RuleCatalog catalog,
    TimeProvider time,
    IOptions<PlatformOptions> platform,
    ILogger<TopicRuleService> logger)
{
    public const int MaxActions = 10;
    public const int MaxDescriptionChars = 2_028;
    const int MaxWriteAttempts = 5;

    [GeneratedRegex("^[a-zA-Z0-9_]{1,128}$")]
    private static partial Regex RuleNamePattern();

    public string ArnOf(string ruleName) => platform.Value.Arn("rule/" + ruleName);

    /// <summary>CreateTopicRule: 409 when a rule of that name exists.</summary>
    public async Task<TopicRule> CreateAsync(TopicRule rule, CancellationToken cancellationToken)
    {
        var filter = Validate(rule);
        var created = rule with { CreatedAt = time.GetUtcNow() };
        if (!await store.TryAddAsync(created, filter, cancellationToken))
        {
            throw new TopicRuleException(TopicRuleError.ResourceAlreadyExists, $"Rule {rule.RuleName} already exists.");
        }
        Changed("created", rule.RuleName);
        return created;
    }

    /// <summary>ReplaceTopicRule: the whole rule is replaced (its creation time kept); 404 when it does not exist.</summary>
    public async Task<TopicRule> ReplaceAsync(TopicRule rule, CancellationToken cancellationToken)
    {
        var filter = Validate(rule);
        var replaced = await UpdateAsync(rule.RuleName, existing => rule with { CreatedAt = existing.CreatedAt }, filter, cancellationToken);
        Changed("replaced", rule.RuleName);
        return replaced;
    }

    public async Task<TopicRule> GetAsync(string ruleName, CancellationToken cancellationToken)
    {
        RequireName(ruleName);
        return (await store.GetAsync(ruleName, cancellationToken))?.Rule ?? throw TopicRuleException.NotFound(ruleName);
    }

    /// <summary>ListTopicRules: <paramref name="topic"/> keeps the rules whose FROM filter is exactly that filter.</summary>
    public Task<ListPage<TopicRuleListItem>> ListAsync(string? topic, bool? ruleDisabled, int? maxResults, string? nextToken, CancellationToken cancellationToken)
        => store.ListAsync(topic, ruleDisabled, maxResults, nextToken, cancellationToken);

    public async Task DeleteAsync(string ruleName, CancellationToken cancellationToken)
    {
        RequireName(ruleName);
        if (!await store.DeleteAsync(ruleName, cancellationToken))
        {
            throw TopicRuleException.NotFound(ruleName);
        }
        Changed("deleted", ruleName);
    }

    public Task EnableAsync(string ruleName, CancellationToken cancellationToken) => SetDisabledAsync(ruleName, false, cancellationToken);

    public Task DisableAsync(string ruleName, CancellationToken cancellationToken) => SetDisabledAsync(ruleName, true, cancellationToken);

    async Task SetDisabledAsync(string ruleName, bool disabled, CancellationToken cancellationToken)
    {
        RequireName(ruleName);
        await UpdateAsync(ruleName, existing => existing with { RuleDisabled = disabled }, null, cancellationToken);
        Changed(disabled ? "disabled" : "enabled", ruleName);
    }

    async Task<TopicRule> UpdateAsync(string ruleName, Func<TopicRule, TopicRule> change, string? topicFilter, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < MaxWriteAttempts; attempt++)
        {
            var existing = await store.GetAsync(ruleName, cancellationToken) ?? throw TopicRuleException.NotFound(ruleName);
            var updated = change(existing.Rule);
            if (await store.TryReplaceAsync(updated, topicFilter ?? existing.TopicFilter, existing.ETag, cancellationToken))
            {
                return updated;
            }
        }
        throw new TopicRuleException(TopicRuleError.ConflictingResourceUpdate, $"Rule {ruleName} kept changing concurrently; try again.");
    }

    void Changed(string what, string ruleName)
    {
        catalog.Invalidate();
        logger.LogInformation("Rule {RuleName} {Change}", ruleName, what);
    }

    static void RequireName(string ruleName)
    {
        if (!RuleNamePattern().IsMatch(ruleName))
        {
            throw TopicRuleException.Invalid($"ruleName '{ruleName}' is invalid: 1 to 128 characters of a-z, A-Z, 0-9 and _.");
        }
    }

    /// <summary>Every problem of <paramref name="rule"/> at once (400), or its FROM topic filter.</summary>
    public string Validate(TopicRule rule)
    {
        var problems = new List<string>();
        int? line = null, column = null;
        string? filter = null;
        if (!RuleNamePattern().IsMatch(rule.RuleName))
        {
            problems.Add($"ruleName '{rule.RuleName}' is invalid: 1 to 128 characters of a-z, A-Z, 0-9 and _.");
        }
        if (rule.AwsIotSqlVersion != RuleQuery.SqlVersion)
        {
            problems.Add($"awsIotSqlVersion '{rule.AwsIotSqlVersion}' is not supported; use {RuleQuery.SqlVersion}.");
        }
        if (rule.Description is { Length: > MaxDescriptionChars })
        {
            problems.Add($"description is longer than {MaxDescriptionChars} characters.");
        }
        if (string.IsNullOrWhiteSpace(rule.Sql))
        {
            problems.Add("sql is required.");
        }
        else
        {
            try
            {
                filter = RuleQuery.Compile(rule.Sql).TopicFilter;
                if (!MqttTopic.IsValidFilter(filter))
                {
                    problems.Add($"sql: the FROM topic filter '{filter}' is not a valid MQTT topic filter.");
                }
                else if (filter.StartsWith("$aws/rules/", StringComparison.Ordinal))
                {
                    problems.Add($"sql: the FROM topic filter '{filter}' is a Basic Ingest topic; rules cannot subscribe to it (publish to $aws/rules/{{ruleName}}/… instead).");
                }
            }
            catch (RuleSqlException ex)
            {
                line = ex.Line;
                column = ex.Column;
                problems.Add($"sql: {ex.Reason} (line {ex.Line}, column {ex.Column}).");
            }
        }
        if (rule.Actions.Count is < 1 or > MaxActions)
        {
            problems.Add($"actions: a rule has 1 to {MaxActions} actions; this one has {rule.Actions.Count}.");
        }
        for (var i = 0; i < rule.Actions.Count; i++)
        {
            ValidateAction(rule.Actions[i], $"actions[{i}]", problems);
        }
        if (rule.ErrorAction is { } errorAction)
        {
            ValidateAction(errorAction, "errorAction", problems);
        }
        if (problems.Count > 0)
        {
            var sqlOnly = line is not null;
            throw new TopicRuleException(sqlOnly ? TopicRuleError.SqlParse : TopicRuleError.InvalidRequest, string.Join(" ", problems), problems, line, column);
        }
        return filter!;
    }

    void ValidateAction(RuleAction action, string where, List<string> problems)
    {
        var kinds = RuleActionKinds.Set(action);
        if (kinds.Count != 1)
        {
            problems.Add($"{where} must set exactly one action kind; it sets {kinds.Count}.");
            return;
        }
        var handler = handlers.Find(kinds[0]);
        if (handler is null)
        {
            problems.Add($"{where}.{kinds[0]}: this platform has no handler for {kinds[0]} actions (available: {string.Join(", ", handlers.Kinds.Order(StringComparer.Ordinal))}).");
            return;
        }
        foreach (var problem in handler.Validate(action))
        {
            problems.Add($"{where}.{kinds[0]}: {problem}");
        }
    }
}
