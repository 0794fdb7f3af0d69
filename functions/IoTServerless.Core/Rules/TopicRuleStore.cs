using System.Net;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using IoTServerless.Core.Registry;
using IoTServerless.Core.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Rules;

/// <summary>A stored rule with the ETag to write it back against.</summary>
public sealed record StoredTopicRule(TopicRule Rule, string TopicFilter, ETag ETag);

/// <summary>What ListTopicRules returns per rule.</summary>
public sealed record TopicRuleListItem(string RuleName, string TopicPattern, DateTimeOffset? CreatedAt, bool RuleDisabled);

/// <summary>
/// Rules in Table storage (<see cref="RulesOptions.TableName"/>, <c>Rules</c>): one entity per rule in
/// partition <see cref="Partition"/>, row key = rule name. Columns: <c>Rule</c> (the rule JSON),
/// <c>TopicFilter</c> (the SQL's FROM filter, so readers such as the broker need not parse SQL),
/// <c>RuleDisabled</c> and <c>CreatedAt</c>. Writes are conditional (Add, or If-Match on the ETag read).
/// </summary>
public sealed class TopicRuleStore(TableClientProvider tables, IOptions<RulesOptions> options, ILogger<TopicRuleStore> logger)
{
    public const string Partition = "rule";

    // A string column holds up to 32K UTF-16 characters.
    const int MaxRuleChars = 32_000;

    string TableName => options.Value.TableName;

    Task<TableClient> TableAsync(CancellationToken cancellationToken) => tables.GetTableAsync(TableName, cancellationToken);

    public async Task<StoredTopicRule?> GetAsync(string ruleName, CancellationToken cancellationToken)
    {
        var table = await TableAsync(cancellationToken);
        var result = await table.GetEntityIfExistsAsync<TableEntity>(Partition, ruleName, cancellationToken: cancellationToken);
        return result.HasValue && result.Value is { } entity ? Read(entity) : null;
    }

    /// <summary>Adds a new rule; false when one of that name exists.</summary>
    public async Task<bool> TryAddAsync(TopicRule rule, string topicFilter, CancellationToken cancellationToken)
    {
        var table = await TableAsync(cancellationToken);
        try
        {
            await table.AddEntityAsync(Entity(rule, topicFilter), cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
        {
            return false;
        }
    }

    /// <summary>Replaces a rule if it is still as read (<paramref name="etag"/>); false when it changed or is gone.</summary>
    public async Task<bool> TryReplaceAsync(TopicRule rule, string topicFilter, ETag etag, CancellationToken cancellationToken)
    {
        var table = await TableAsync(cancellationToken);
        try
        {
            await table.UpdateEntityAsync(Entity(rule, topicFilter), etag, TableUpdateMode.Replace, cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary>Deletes a rule; false when there was none.</summary>
    public async Task<bool> DeleteAsync(string ruleName, CancellationToken cancellationToken)
    {
        var table = await TableAsync(cancellationToken);
        // The SDK answers a delete of a missing entity with its 404 response rather than an exception.
        var response = await table.DeleteEntityAsync(Partition, ruleName, ETag.All, cancellationToken);
        return response.Status != (int)HttpStatusCode.NotFound;
    }

    /// <summary>One page of rules in name order, optionally only those whose FROM filter is <paramref name="topic"/> and/or of one enabled state.</summary>
    public async Task<ListPage<TopicRuleListItem>> ListAsync(string? topic, bool? ruleDisabled, int? maxResults, string? nextToken, CancellationToken cancellationToken)
    {
        var table = await TableAsync(cancellationToken);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition}");
        if (topic is not null)
        {
            filter += " and " + TableClient.CreateQueryFilter($"TopicFilter eq {topic}");
        }
        if (ruleDisabled is { } disabled)
        {
            filter += " and " + TableClient.CreateQueryFilter($"RuleDisabled eq {disabled}");
        }
        var (entities, next) = await PageTokens.QueryPageAsync(table, filter, ["RowKey", "TopicFilter", "CreatedAt", "RuleDisabled"],
            "rules|" + topic + "|" + ruleDisabled, maxResults, nextToken, cancellationToken);
        return new ListPage<TopicRuleListItem>(
            [.. entities.Select(e => new TopicRuleListItem(e.RowKey, e.GetString("TopicFilter") ?? "", e.GetDateTimeOffset("CreatedAt"), e.GetBoolean("RuleDisabled") ?? false))],
            next);
    }

    /// <summary>Every enabled rule (what the engine compiles).</summary>
    public async Task<IReadOnlyList<StoredTopicRule>> ListEnabledAsync(CancellationToken cancellationToken)
    {
        var table = await TableAsync(cancellationToken);
        var rules = new List<StoredTopicRule>();
        await foreach (var entity in table.QueryAsync<TableEntity>(EnabledFilter(), cancellationToken: cancellationToken))
        {
            try
            {
                rules.Add(Read(entity));
            }
            catch (JsonException ex)
            {
                // One damaged entity (written by hand) must not stop every other rule.
                logger.LogWarning(ex, "Rule {RuleName} is skipped: its stored JSON cannot be read", entity.RowKey);
            }
        }
        return rules;
    }

    /// <summary>The FROM filters of the enabled rules, reading only that column (what the broker forwards).</summary>
    public async Task<IReadOnlyCollection<string>> ListEnabledTopicFiltersAsync(CancellationToken cancellationToken)
    {
        var table = await TableAsync(cancellationToken);
        var filters = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var entity in table.QueryAsync<TableEntity>(EnabledFilter(), select: ["TopicFilter"], cancellationToken: cancellationToken))
        {
            if (entity.GetString("TopicFilter") is { Length: > 0 } filter)
            {
                filters.Add(filter);
            }
        }
        return filters;
    }

    static string EnabledFilter() => TableClient.CreateQueryFilter($"PartitionKey eq {Partition} and RuleDisabled eq {false}");

    static TableEntity Entity(TopicRule rule, string topicFilter)
    {
        var json = TopicRuleJson.Serialize(rule);
        if (json.Length > MaxRuleChars)
        {
            throw TopicRuleException.Invalid($"The rule is too large to store ({json.Length} characters of JSON; at most {MaxRuleChars}).");
        }
        return new TableEntity(Partition, rule.RuleName)
        {
            ["Rule"] = json,
            ["TopicFilter"] = topicFilter,
            ["RuleDisabled"] = rule.RuleDisabled,
            ["CreatedAt"] = rule.CreatedAt,
        };
    }

    static StoredTopicRule Read(TableEntity entity)
    {
        var rule = TopicRuleJson.Deserialize(entity.GetString("Rule") ?? "{}") with
        {
            RuleName = entity.RowKey,
            RuleDisabled = entity.GetBoolean("RuleDisabled") ?? false,
        };
        return new StoredTopicRule(rule, entity.GetString("TopicFilter") ?? "", entity.ETag);
    }
}
