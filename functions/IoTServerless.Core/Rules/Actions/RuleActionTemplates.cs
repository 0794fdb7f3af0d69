using System.Collections.Concurrent;
using IoTServerless.Core.Rules.Sql;

namespace IoTServerless.Core.Rules.Actions;

/// <summary>
/// Renders action fields that may hold substitution templates (<c>${expression}</c>), compiling each
/// distinct text once. Text without <c>${</c> is used as it is.
/// </summary>
internal sealed class RuleActionTemplates
{
    const int MaxCached = 10_000;
    readonly ConcurrentDictionary<string, RuleTemplate> _compiled = new(StringComparer.Ordinal);

    public static bool IsTemplate(string text) => text.Contains("${", StringComparison.Ordinal);

    /// <summary>The field's value for this message; throws <see cref="RuleSqlException"/> for a template that does not compile.</summary>
    public string Render(string text, in RuleMessage message)
    {
        if (!IsTemplate(text))
        {
            return text;
        }
        if (!_compiled.TryGetValue(text, out var template))
        {
            if (_compiled.Count >= MaxCached)
            {
                _compiled.Clear();
            }
            template = _compiled.GetOrAdd(text, RuleTemplate.Compile);
        }
        return template.Render(in message);
    }

    /// <summary>Null when <paramref name="text"/> is literal or a template that compiles; else the problem, naming <paramref name="field"/>.</summary>
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
        catch (RuleSqlException e)
        {
            return $"{field}: invalid substitution template: {e.Message}";
        }
    }
}
