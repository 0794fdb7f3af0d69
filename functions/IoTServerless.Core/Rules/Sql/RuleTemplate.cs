namespace IoTServerless.Core.Rules.Sql;

/// <summary>
/// An action field with substitution templates, e.g. <c>farm/${topic(3)}/${timestamp()}</c>: each
/// <c>${expression}</c> is a rule SQL expression over the incoming message. Compiled once.
/// </summary>
public sealed class RuleTemplate
{
    RuleTemplate(string text) => Text = text;

    public string Text { get; }

    /// <summary>Compiles; throws <see cref="RuleSqlException"/> with the position in the template.</summary>
    public static RuleTemplate Compile(string text) => throw new NotImplementedException();

    /// <summary>The text with each expression replaced by its value (Undefined → empty string).</summary>
    public string Render(in RuleMessage message) => throw new NotImplementedException();
}
