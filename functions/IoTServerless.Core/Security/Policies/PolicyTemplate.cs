using System.Text;

namespace IoTServerless.Core.Security.Policies;

/// <summary>
/// A resource or condition value as written in a policy: text in which <c>*</c>/<c>?</c> are
/// wildcards, <c>${name}</c> policy variables (their values are literal text), and the escapes
/// <c>${*}</c>, <c>${?}</c>, <c>${$}</c> (a literal <c>*</c>, <c>?</c>, <c>$</c>).
/// </summary>
public sealed class PolicyTemplate
{
    readonly Part[] _parts;

    PolicyTemplate(string text, Part[] parts)
    {
        Text = text;
        _parts = parts;
        HasVariables = parts.Any(p => p.Kind == PartKind.Variable);
    }

    public string Text { get; }

    public bool HasVariables { get; }

    enum PartKind : byte { Text, Literal, Variable }

    readonly record struct Part(PartKind Kind, string Value);

    public static PolicyTemplate Parse(string text)
        => TryParse(text, out var template, out var error) ? template : throw new FormatException(error);

    public static bool TryParse(string text, out PolicyTemplate template, out string error)
    {
        var parts = new List<Part>();
        var current = new StringBuilder();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '$' && i + 1 < text.Length && text[i + 1] == '{')
            {
                var close = text.IndexOf('}', i + 2);
                if (close < 0)
                {
                    template = null!;
                    error = $"the policy variable at character {i + 1} has no closing '}}'.";
                    return false;
                }
                var name = text[(i + 2)..close];
                if (current.Length > 0)
                {
                    parts.Add(new Part(PartKind.Text, current.ToString()));
                    current.Clear();
                }
                if (name is "*" or "?" or "$")
                {
                    parts.Add(new Part(PartKind.Literal, name));
                }
                else if (PolicyVariables.Validate(name) is { } problem)
                {
                    template = null!;
                    error = problem;
                    return false;
                }
                else
                {
                    parts.Add(new Part(PartKind.Variable, name));
                }
                i = close;
            }
            else
            {
                current.Append(text[i]);
            }
        }
        if (current.Length > 0)
        {
            parts.Add(new Part(PartKind.Text, current.ToString()));
        }
        template = new PolicyTemplate(text, [.. parts]);
        error = "";
        return true;
    }

    /// <summary>The glob with variables substituted (as literal text); null when a variable cannot be resolved.</summary>
    public GlobPattern? ToGlob(PolicyContext context)
    {
        var builder = new GlobPattern.Builder();
        foreach (var part in _parts)
        {
            switch (part.Kind)
            {
                case PartKind.Text:
                    foreach (var c in part.Value)
                    {
                        _ = c switch
                        {
                            '*' => builder.AppendAnyRun(),
                            '?' => builder.AppendAnyChar(),
                            _ => builder.AppendLiteral(c),
                        };
                    }
                    break;
                case PartKind.Literal:
                    builder.AppendLiteral(part.Value);
                    break;
                default:
                    if (PolicyVariables.Resolve(part.Value, context) is not { } value)
                    {
                        return null;
                    }
                    builder.AppendLiteral(value);
                    break;
            }
        }
        return builder.Build();
    }

    /// <summary>The text with variables and escapes substituted, wildcards kept as written; null when unresolvable.</summary>
    public string? Resolve(PolicyContext context)
    {
        if (_parts.Length == 1 && _parts[0].Kind == PartKind.Text)
        {
            return _parts[0].Value;
        }
        var sb = new StringBuilder();
        foreach (var part in _parts)
        {
            if (part.Kind == PartKind.Variable)
            {
                if (PolicyVariables.Resolve(part.Value, context) is not { } value)
                {
                    return null;
                }
                sb.Append(value);
            }
            else
            {
                sb.Append(part.Value);
            }
        }
        return sb.ToString();
    }

    public override string ToString() => Text;
}
