using System.Collections.Concurrent;
using IoTServerless.Core.Rules.Sql;

namespace IoTServerless.Core.Rules.Actions;

/// <summary>
/// Action fields that may hold substitution templates (<c>${expression}</c>), each distinct text
/// compiled once and kept; text without <c>${</c> is used as it is.
/// </summary>
public sealed class RuleTemplates
{
    const int MaxEntries = 10_000;

    readonly ConcurrentDictionary<string, RuleTemplate> _compiled = new(StringComparer.Ordinal);

    public static bool IsTemplate(string text) => text.Contains("${", StringComparison.Ordinal);

    /// <summary>The compiled template; throws <see cref="RuleSqlException"/> when it does not compile.</summary>
    public RuleTemplate Get(string text)
    {
        if (_compiled.TryGetValue(text, out var template))
        {
            return template;
        }
        if (_compiled.Count >= MaxEntries)
        {
            _compiled.Clear();
        }
        return _compiled.GetOrAdd(text, RuleTemplate.Compile);
    }

    /// <summary>The field's value for this message; throws <see cref="RuleSqlException"/> for a template that does not compile.</summary>
    public string Render(string text, in RuleMessage message) => IsTemplate(text) ? Get(text).Render(in message) : text;

    /// <summary>Checks a field on save: null when it is literal or a template that compiles, else the problem with its position.</summary>
    public static string? Check(string field, string text)
    {
        if (!IsTemplate(text))
        {
            return null;
        }
        try
        {
            RuleTemplate.Compile(text);
            return null;
        }
        catch (RuleSqlException ex)
        {
            return $"{field}: '{text}' is not a valid substitution template: {ex.Reason} (line {ex.Line}, column {ex.Column}).";
        }
    }
}
