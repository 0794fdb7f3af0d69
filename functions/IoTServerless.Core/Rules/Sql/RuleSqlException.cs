namespace IoTServerless.Core.Rules.Sql;

/// <summary>A rule SQL statement or substitution template that does not compile; 1-based position.</summary>
public sealed class RuleSqlException(string message, int line, int column)
    : Exception($"{message} (line {line}, column {column})")
{
    public string Reason { get; } = message;

    public int Line { get; } = line;

    public int Column { get; } = column;
}
