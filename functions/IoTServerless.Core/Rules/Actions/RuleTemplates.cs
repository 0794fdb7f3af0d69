using System.Collections.Concurrent;
using IoTServerless.Core.Rules.Sql;

namespace IoTServerless.Core.Rules.Actions;

/// <summary>Substitution templates compiled once per text and kept (actions render them per message).</summary>
public sealed class RuleTemplates
{
    const int MaxEntries = 10_000;

    readonly ConcurrentDictionary<string, RuleTemplate> _compiled = new(StringComparer.Ordinal);

    /// <summary>The compiled template; throws <see cref="RuleSqlException"/> when it does not compile.</summary>
    public RuleTemplate Get(string text)
    {
        if (_compiled.TryGetValue(text, out var template))
        {
            return template;
        }
        template = RuleTemplate.Compile(text);
        if (_compiled.Count >= MaxEntries)
        {
            _compiled.Clear();
        }
        _compiled[text] = template;
        return template;
    }

    /// <summary>Checks a template on save: null when it compiles, else the problem with its position.</summary>
    public static string? Check(string field, string text)
    {
        try
        {
            RuleTemplate.Compile(text);
            return null;
        }
        catch (RuleSqlException ex)
        {
            return $"{field} '{text}' is not a valid substitution template: {ex.Reason} (column {ex.Column}).";
        }
    }
}
