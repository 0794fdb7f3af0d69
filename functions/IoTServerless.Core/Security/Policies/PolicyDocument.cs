using System.Collections.Concurrent;
using System.Text.Json;

namespace IoTServerless.Core.Security.Policies;

public enum PolicyEffect
{
    Allow,
    Deny,
}

/// <summary>A parsed, valid AWS IoT policy document. Build one with <see cref="Parse"/> or <see cref="TryParse"/>.</summary>
public sealed class PolicyDocument
{
    /// <summary>AWS's limit: characters of the document not counting whitespace.</summary>
    public const int MaxNonWhitespaceCharacters = 2048;

    /// <summary>A bound on the raw text (whitespace included) so a stored document always fits a table property.</summary>
    public const int MaxTotalCharacters = 20 * 1024;

    public const string SupportedVersion = "2012-10-17";

    internal PolicyDocument(string json, string version, IReadOnlyList<PolicyStatement> statements)
    {
        Json = json;
        Version = version;
        Statements = statements;
    }

    /// <summary>The document exactly as it was given.</summary>
    public string Json { get; }

    public string Version { get; }

    public IReadOnlyList<PolicyStatement> Statements { get; }

    /// <summary>Parses and validates; throws <see cref="PolicyValidationException"/> listing every problem with where it is.</summary>
    public static PolicyDocument Parse(string json)
        => TryParse(json, out var document, out var errors) ? document : throw new PolicyValidationException(errors);

    const int MaxShared = 4096;
    static readonly ConcurrentDictionary<string, PolicyDocument> s_shared = new(StringComparer.Ordinal);

    /// <summary>
    /// <see cref="Parse"/> for stored documents, which every connection of a fleet reads again: one
    /// instance per distinct text, so what is compiled from its statements once
    /// (<see cref="CompiledPolicySet"/>) serves every connection. Bounded: past
    /// <c>4,096</c> distinct texts it starts afresh.
    /// </summary>
    public static PolicyDocument ParseShared(string json)
    {
        if (s_shared.TryGetValue(json, out var shared))
        {
            return shared;
        }
        var parsed = Parse(json);
        if (s_shared.Count >= MaxShared)
        {
            s_shared.Clear();
        }
        return s_shared.GetOrAdd(json, parsed);
    }

    public static bool TryParse(string? json, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PolicyDocument? document, out IReadOnlyList<PolicyValidationError> errors)
    {
        var parser = new PolicyDocumentParser();
        document = parser.Parse(json);
        errors = parser.Errors;
        if (errors.Count > 0)
        {
            document = null;
        }
        return document is not null;
    }
}

/// <summary>One statement. <see cref="NotAction"/>/<see cref="NotResource"/> say which form was used.</summary>
public sealed record PolicyStatement(
    string? Sid,
    PolicyEffect Effect,
    IReadOnlyList<string> Actions,
    bool NotAction,
    IReadOnlyList<PolicyResourcePattern> Resources,
    bool NotResource,
    IReadOnlyList<PolicyCondition> Conditions)
{
    /// <summary>The known actions the statement's Action (or NotAction) entries name, as a mask.</summary>
    public ulong ActionMask { get; init; }
}

/// <summary>A <c>Resource</c> entry: <c>*</c> or an ARN, whose part after <c>arn:aws:iot:{region}:{account}:</c> is matched.</summary>
public sealed record PolicyResourcePattern(string Text, PolicyTemplate Pattern);

/// <summary>
/// One operator/key pair of a <c>Condition</c> block, e.g. <c>StringLike</c> + <c>iot:ClientId</c>.
/// <see cref="Operator"/> is the base operator (without <c>IfExists</c>).
/// </summary>
public sealed record PolicyCondition(string Operator, bool IfExists, string Key, IReadOnlyList<PolicyTemplate> Values);

/// <summary>Where a document is wrong: a JSON path such as <c>Statement[1].Action[0]</c> (or a line/column) and what is wrong.</summary>
public sealed record PolicyValidationError(string Path, string Message)
{
    public override string ToString() => $"{Path}: {Message}";
}

public sealed class PolicyValidationException(IReadOnlyList<PolicyValidationError> errors)
    : Exception(string.Join(" ", errors.Select(e => e.ToString())))
{
    public IReadOnlyList<PolicyValidationError> Errors { get; } = errors;
}

sealed class PolicyDocumentParser
{
    static readonly HashSet<string> ResourceTypes = new(StringComparer.Ordinal)
    {
        "client", "topic", "topicfilter", "thing", "thinggroup", "thingtype", "cert", "cacert", "policy",
        "rolealias", "job", "jobtemplate", "billinggroup", "dynamicthinggroup", "provisioningtemplate",
        "authorizer", "domainconfiguration", "index", "rule", "destination", "tunnel", "fleetmetric",
    };

    static readonly HashSet<string> StatementKeys = new(StringComparer.Ordinal)
    {
        "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition",
    };

    readonly List<PolicyValidationError> _errors = [];

    public IReadOnlyList<PolicyValidationError> Errors => _errors;

    void Error(string path, string message) => _errors.Add(new PolicyValidationError(path, message));

    public PolicyDocument? Parse(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            Error("$", "The policy document is empty.");
            return null;
        }
        if (json.Length > PolicyDocument.MaxTotalCharacters)
        {
            Error("$", $"The policy document has {json.Length} characters; the limit is {PolicyDocument.MaxTotalCharacters} including whitespace.");
            return null;
        }
        var nonWhitespace = 0;
        foreach (var c in json)
        {
            if (!char.IsWhiteSpace(c))
            {
                nonWhitespace++;
            }
        }
        if (nonWhitespace > PolicyDocument.MaxNonWhitespaceCharacters)
        {
            Error("$", $"The policy document has {nonWhitespace} non-whitespace characters; the limit is {PolicyDocument.MaxNonWhitespaceCharacters}.");
            return null;
        }
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowDuplicateProperties = false, MaxDepth = 16 });
        }
        catch (JsonException ex)
        {
            Error($"line {(ex.LineNumber ?? 0) + 1}, column {(ex.BytePositionInLine ?? 0) + 1}", "Malformed JSON: " + FirstSentence(ex.Message));
            return null;
        }
        using (doc)
        {
            return ParseRoot(json, doc.RootElement);
        }
    }

    static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }

    PolicyDocument? ParseRoot(string json, JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            Error("$", $"The policy document must be a JSON object, not {Describe(root)}.");
            return null;
        }
        string? version = null;
        JsonElement? statement = null;
        foreach (var property in root.EnumerateObject())
        {
            switch (property.Name)
            {
                case "Version":
                    if (property.Value.ValueKind != JsonValueKind.String || property.Value.GetString() != PolicyDocument.SupportedVersion)
                    {
                        Error("Version", $"Version must be \"{PolicyDocument.SupportedVersion}\".");
                    }
                    else
                    {
                        version = PolicyDocument.SupportedVersion;
                    }
                    break;
                case "Statement":
                    statement = property.Value;
                    break;
                case "Id":
                    break;
                default:
                    Error(property.Name, $"Unknown element '{property.Name}'; a policy has Version, Statement and optionally Id.");
                    break;
            }
        }
        if (!root.TryGetProperty("Version", out _))
        {
            Error("Version", $"Version is required and must be \"{PolicyDocument.SupportedVersion}\".");
        }
        var statements = new List<PolicyStatement>();
        switch (statement)
        {
            case null:
                Error("Statement", "Statement is required.");
                break;
            case { ValueKind: JsonValueKind.Object } single:
                AddStatement(statements, single, "Statement");
                break;
            case { ValueKind: JsonValueKind.Array } array:
                if (array.GetArrayLength() == 0)
                {
                    Error("Statement", "Statement must not be empty.");
                }
                var i = 0;
                foreach (var item in array.EnumerateArray())
                {
                    AddStatement(statements, item, $"Statement[{i++}]");
                }
                break;
            default:
                Error("Statement", $"Statement must be an object or an array of objects, not {Describe(statement.Value)}.");
                break;
        }
        return _errors.Count == 0 ? new PolicyDocument(json, version!, statements) : null;
    }

    void AddStatement(List<PolicyStatement> statements, JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            Error(path, $"A statement must be an object, not {Describe(element)}.");
            return;
        }
        var errorsBefore = _errors.Count;
        foreach (var property in element.EnumerateObject())
        {
            if (!StatementKeys.Contains(property.Name))
            {
                Error($"{path}.{property.Name}", $"Unknown element '{property.Name}'; a statement has Sid, Effect, Action or NotAction, Resource or NotResource, and Condition.");
            }
        }
        string? sid = null;
        if (element.TryGetProperty("Sid", out var sidElement))
        {
            if (sidElement.ValueKind != JsonValueKind.String)
            {
                Error($"{path}.Sid", "Sid must be a string.");
            }
            else
            {
                sid = sidElement.GetString();
            }
        }
        PolicyEffect effect = default;
        if (!element.TryGetProperty("Effect", out var effectElement))
        {
            Error($"{path}.Effect", "Effect is required (\"Allow\" or \"Deny\").");
        }
        else if (effectElement.ValueKind != JsonValueKind.String || effectElement.GetString() is not ("Allow" or "Deny"))
        {
            Error($"{path}.Effect", $"Effect must be \"Allow\" or \"Deny\", not {Describe(effectElement)}.");
        }
        else
        {
            effect = effectElement.GetString() == "Allow" ? PolicyEffect.Allow : PolicyEffect.Deny;
        }

        var (actionName, actionElement) = EitherOf(element, path, "Action", "NotAction");
        var actions = new List<string>();
        ulong mask = 0;
        if (actionElement is { } a)
        {
            foreach (var (value, valuePath) in Strings(a, $"{path}.{actionName}"))
            {
                var entryMask = PolicyActions.MaskOf(value);
                if (entryMask == 0)
                {
                    Error(valuePath, $"Unknown action '{value}'. Known actions: iot:*, {string.Join(", ", PolicyActions.All.Select(PolicyActions.NameOf))} (wildcards allowed).");
                }
                mask |= entryMask;
                actions.Add(value);
            }
        }

        var (resourceName, resourceElement) = EitherOf(element, path, "Resource", "NotResource");
        var resources = new List<PolicyResourcePattern>();
        if (resourceElement is { } r)
        {
            foreach (var (value, valuePath) in Strings(r, $"{path}.{resourceName}"))
            {
                if (ParseResource(value, valuePath) is { } pattern)
                {
                    resources.Add(pattern);
                }
            }
        }

        var conditions = new List<PolicyCondition>();
        if (element.TryGetProperty("Condition", out var conditionElement))
        {
            ParseConditions(conditionElement, $"{path}.Condition", conditions);
        }

        if (_errors.Count == errorsBefore)
        {
            statements.Add(new PolicyStatement(sid, effect, actions, actionName == "NotAction", resources, resourceName == "NotResource", conditions) { ActionMask = mask });
        }
    }

    (string Name, JsonElement? Element) EitherOf(JsonElement statement, string path, string positive, string negative)
    {
        var hasPositive = statement.TryGetProperty(positive, out var p);
        var hasNegative = statement.TryGetProperty(negative, out var n);
        if (hasPositive && hasNegative)
        {
            Error($"{path}.{negative}", $"A statement has either {positive} or {negative}, not both.");
            return (positive, null);
        }
        if (!hasPositive && !hasNegative)
        {
            Error($"{path}.{positive}", $"{positive} (or {negative}) is required.");
            return (positive, null);
        }
        return hasPositive ? (positive, p) : (negative, n);
    }

    /// <summary>A string or a non-empty array of strings, each with its path.</summary>
    List<(string Value, string Path)> Strings(JsonElement element, string path)
    {
        var list = new List<(string, string)>();
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                Add(element.GetString()!, path);
                break;
            case JsonValueKind.Array when element.GetArrayLength() == 0:
                Error(path, "Must not be an empty list.");
                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    var itemPath = $"{path}[{i++}]";
                    if (item.ValueKind != JsonValueKind.String)
                    {
                        Error(itemPath, $"Must be a string, not {Describe(item)}.");
                    }
                    else
                    {
                        Add(item.GetString()!, itemPath);
                    }
                }
                break;
            default:
                Error(path, $"Must be a string or a list of strings, not {Describe(element)}.");
                break;
        }
        return list;

        void Add(string value, string valuePath)
        {
            if (value.Length == 0)
            {
                Error(valuePath, "Must not be empty.");
            }
            else
            {
                list.Add((value, valuePath));
            }
        }
    }

    PolicyResourcePattern? ParseResource(string value, string path)
    {
        if (value == "*")
        {
            return new PolicyResourcePattern(value, PolicyTemplate.Parse("*"));
        }
        const string Hint = "A resource is \"*\" or an ARN arn:aws:iot:{region}:{account}:{type}/{name}";
        var parts = value.Split(':', 6);
        if (parts.Length < 6 || parts[0] != "arn" || parts[2] != "iot" || !(parts[1] == "aws" || parts[1] == "*"))
        {
            Error(path, $"Invalid resource '{value}'. {Hint}.");
            return null;
        }
        var rest = parts[5];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var type = slash < 0 ? rest : rest[..slash];
        var typeHasWildcard = type.Contains('*', StringComparison.Ordinal) || type.Contains('?', StringComparison.Ordinal);
        if (!typeHasWildcard && !ResourceTypes.Contains(type))
        {
            Error(path, $"Invalid resource '{value}': unknown resource type '{type}'. Known types: {string.Join(", ", ResourceTypes.Order(StringComparer.Ordinal))}.");
            return null;
        }
        if (!typeHasWildcard && (slash < 0 || slash == rest.Length - 1))
        {
            Error(path, $"Invalid resource '{value}': the {type} name is missing. {Hint}.");
            return null;
        }
        if (!PolicyTemplate.TryParse(rest, out var template, out var error))
        {
            Error(path, $"Invalid resource '{value}': {error}");
            return null;
        }
        return new PolicyResourcePattern(value, template);
    }

    void ParseConditions(JsonElement element, string path, List<PolicyCondition> conditions)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            Error(path, $"Condition must be an object of operators, not {Describe(element)}.");
            return;
        }
        foreach (var op in element.EnumerateObject())
        {
            var opPath = $"{path}.{op.Name}";
            if (!PolicyConditions.TryParseOperator(op.Name, out var baseOperator, out var ifExists))
            {
                Error(opPath, $"Unknown condition operator '{op.Name}'. Supported: {string.Join(", ", PolicyConditions.Operators)} (each also with IfExists, except Null).");
                continue;
            }
            if (op.Value.ValueKind != JsonValueKind.Object || !op.Value.EnumerateObject().Any())
            {
                Error(opPath, "A condition operator takes a non-empty object of condition keys to values.");
                continue;
            }
            foreach (var key in op.Value.EnumerateObject())
            {
                var keyPath = $"{opPath}.{key.Name}";
                if (key.Name.Length == 0)
                {
                    Error(keyPath, "A condition key must not be empty.");
                    continue;
                }
                var values = new List<PolicyTemplate>();
                var items = key.Value.ValueKind == JsonValueKind.Array ? [.. key.Value.EnumerateArray()] : new[] { key.Value };
                if (items.Length == 0)
                {
                    Error(keyPath, "Must not be an empty list.");
                }
                for (var i = 0; i < items.Length; i++)
                {
                    var itemPath = key.Value.ValueKind == JsonValueKind.Array ? $"{keyPath}[{i}]" : keyPath;
                    var text = items[i].ValueKind switch
                    {
                        JsonValueKind.String => items[i].GetString(),
                        JsonValueKind.Number => items[i].GetRawText(),
                        JsonValueKind.True => "true",
                        JsonValueKind.False => "false",
                        _ => null,
                    };
                    if (text is null)
                    {
                        Error(itemPath, $"A condition value must be a string, number or boolean, not {Describe(items[i])}.");
                        continue;
                    }
                    if (PolicyConditions.ValidateValue(baseOperator, text) is { } problem)
                    {
                        Error(itemPath, problem);
                        continue;
                    }
                    if (!PolicyTemplate.TryParse(text, out var template, out var error))
                    {
                        Error(itemPath, error);
                        continue;
                    }
                    values.Add(template);
                }
                conditions.Add(new PolicyCondition(baseOperator, ifExists, key.Name, values));
            }
        }
    }

    static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => $"\"{element.GetString()}\"",
        JsonValueKind.Number => $"the number {element.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => $"the boolean {element.GetRawText()}",
        _ => "null",
    };
}
