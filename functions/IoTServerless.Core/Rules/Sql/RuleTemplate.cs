using System.Text;

namespace IoTServerless.Core.Rules.Sql;

/// <summary>
/// An action field with substitution templates, e.g. <c>farm/${topic(3)}/${timestamp()}</c>: each
/// <c>${expression}</c> is a rule SQL expression over the incoming message. Compiled once; thread-safe.
/// </summary>
public sealed class RuleTemplate
{
    readonly string[] _literals;
    readonly Expr[] _expressions;
    readonly FieldSet _fields;
    readonly int[] _slots;

    RuleTemplate(string text, string[] literals, Expr[] expressions)
    {
        Text = text;
        _literals = literals;
        _expressions = expressions;
        var fields = expressions.SelectMany(e => e.DescendantsAndSelf()).OfType<FieldExpr>().ToList();
        var names = fields.Select(f => f.Name).Distinct(StringComparer.Ordinal).ToList();
        foreach (var field in fields)
        {
            field.Slot = names.IndexOf(field.Name);
        }
        _fields = new FieldSet(names);
        _slots = [.. Enumerable.Range(0, names.Count)];
    }

    public string Text { get; }

    /// <summary>True when the text has at least one <c>${…}</c>.</summary>
    public bool HasExpressions => _expressions.Length > 0;

    /// <summary>Compiles; throws <see cref="RuleSqlException"/> with the position in the template.</summary>
    public static RuleTemplate Compile(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var literals = new List<string>();
        var expressions = new List<Expr>();
        var literal = new StringBuilder();
        var i = 0;
        while (i < text.Length)
        {
            if (text[i] == '$' && i + 1 < text.Length && text[i + 1] == '{')
            {
                var (expression, end, shadowCalls) = SqlParser.ParseTemplateExpression(text, i + 2);
                if (shadowCalls.Count > 0)
                {
                    throw SqlErrors.At(text, "get_thing_shadow is not supported in substitution templates", shadowCalls[0].Position);
                }
                literals.Add(literal.ToString());
                literal.Clear();
                expressions.Add(expression);
                i = end;
                continue;
            }
            literal.Append(text[i]);
            i++;
        }
        literals.Add(literal.ToString());
        return new RuleTemplate(text, [.. literals], [.. expressions]);
    }

    /// <summary>The text with each expression replaced by its value (Undefined → empty string; strings without quotes, objects and arrays as JSON).</summary>
    public string Render(in RuleMessage message)
    {
        if (_expressions.Length == 0)
        {
            return Text;
        }
        var context = EvalContext.Rent(message, _fields);
        try
        {
            context.Fill(_slots);
            if (_expressions.Length == 1 && _literals[0].Length == 0 && _literals[1].Length == 0)
            {
                return Format(_expressions[0].Eval(context));
            }
            var builder = new StringBuilder(Text.Length + 32);
            for (var i = 0; i < _expressions.Length; i++)
            {
                builder.Append(_literals[i]).Append(Format(_expressions[i].Eval(context)));
            }
            return builder.Append(_literals[^1]).ToString();
        }
        finally
        {
            EvalContext.Return(context);
        }
    }

    static string Format(in SqlValue value) => value.Type switch
    {
        SqlType.Undefined => "",
        SqlType.Null => "null",
        _ => value.ToSqlString() ?? "",
    };

    public override string ToString() => Text;
}
