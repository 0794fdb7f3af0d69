using System.Text.Json;
using System.Text.Json.Serialization;

namespace IoTServerless.Core.Rules;

/// <summary>
/// The rule JSON of AWS IoT's CreateTopicRule/ReplaceTopicRule payload
/// (<c>{"sql","description","ruleDisabled","awsIotSqlVersion","actions":[…],"errorAction":{…}}</c>),
/// with the Azure action kinds (camelCase of <see cref="TopicRule"/>).
/// </summary>
public static class TopicRuleJson
{
    /// <summary>How rules and failure documents are written: camelCase, nulls left out (an action object has one key).</summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>
    /// Reads a rule payload. Throws <see cref="TopicRuleException"/> (400) listing every structural problem,
    /// each naming its field; the SQL and the actions' settings are checked by <see cref="TopicRuleService"/>.
    /// </summary>
    public static TopicRule Parse(string ruleName, JsonElement body)
    {
        var problems = new List<string>();
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw TopicRuleException.Invalid("The rule payload must be a JSON object.");
        }
        var sql = String(body, "sql", problems, required: true);
        var description = String(body, "description", problems, required: false);
        var version = String(body, "awsIotSqlVersion", problems, required: false);
        var disabled = false;
        if (body.TryGetProperty("ruleDisabled", out var d) && d.ValueKind != JsonValueKind.Null)
        {
            if (d.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                disabled = d.GetBoolean();
            }
            else
            {
                problems.Add("ruleDisabled must be true or false.");
            }
        }
        var actions = new List<RuleAction>();
        if (!body.TryGetProperty("actions", out var list) || list.ValueKind == JsonValueKind.Null)
        {
            problems.Add("actions is required: a list of 1 to 10 actions.");
        }
        else if (list.ValueKind != JsonValueKind.Array)
        {
            problems.Add("actions must be a list of actions.");
        }
        else
        {
            var i = 0;
            foreach (var item in list.EnumerateArray())
            {
                if (Action(item, $"actions[{i}]", problems) is { } action)
                {
                    actions.Add(action);
                }
                i++;
            }
        }
        RuleAction? errorAction = null;
        if (body.TryGetProperty("errorAction", out var e) && e.ValueKind != JsonValueKind.Null)
        {
            errorAction = Action(e, "errorAction", problems);
        }
        if (problems.Count > 0)
        {
            throw new TopicRuleException(TopicRuleError.InvalidRequest, string.Join(" ", problems), problems);
        }
        return new TopicRule
        {
            RuleName = ruleName,
            Sql = sql!,
            Description = description,
            RuleDisabled = disabled,
            AwsIotSqlVersion = version ?? Sql.RuleQuery.SqlVersion,
            Actions = actions,
            ErrorAction = errorAction,
        };
    }

    static string? String(JsonElement body, string name, List<string> problems, bool required)
    {
        if (!body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                problems.Add($"{name} is required.");
            }
            return null;
        }
        if (value.ValueKind != JsonValueKind.String)
        {
            problems.Add($"{name} must be a string.");
            return null;
        }
        return value.GetString();
    }

    static RuleAction? Action(JsonElement item, string where, List<string> problems)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            problems.Add($"{where} must be an object with one action key ({string.Join(", ", RuleActionKinds.All)}).");
            return null;
        }
        var keys = item.EnumerateObject().Select(p => p.Name).ToList();
        if (keys.Count != 1)
        {
            problems.Add($"{where} must set exactly one action kind; it sets {keys.Count} ({string.Join(", ", keys)}).");
            return null;
        }
        if (!RuleActionKinds.All.Contains(keys[0], StringComparer.Ordinal))
        {
            problems.Add($"{where}: unknown action kind '{keys[0]}' (known: {string.Join(", ", RuleActionKinds.All)}).");
            return null;
        }
        if (item.GetProperty(keys[0]).ValueKind != JsonValueKind.Object)
        {
            problems.Add($"{where}.{keys[0]} must be an object.");
            return null;
        }
        try
        {
            return item.Deserialize<RuleAction>(Options) ?? throw new JsonException("null");
        }
        catch (JsonException ex)
        {
            problems.Add($"{where}.{keys[0]}: {ex.Message}");
            return null;
        }
    }

    /// <summary>The stored form of a rule.</summary>
    public static string Serialize(TopicRule rule) => JsonSerializer.Serialize(rule, Options);

    public static TopicRule Deserialize(string json)
        => JsonSerializer.Deserialize<TopicRule>(json, Options) ?? throw new JsonException("A stored rule is null.");

    /// <summary>The errorAction's input: the AWS failure document.</summary>
    public static byte[] SerializeFailure(RuleFailure failure) => JsonSerializer.SerializeToUtf8Bytes(failure, Options);
}
