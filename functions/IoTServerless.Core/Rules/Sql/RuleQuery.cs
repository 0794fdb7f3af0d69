namespace IoTServerless.Core.Rules.Sql;

/// <summary>
/// One rule's SQL (version 2016-03-23), parsed and compiled once: evaluation neither re-parses nor
/// reflects per message.
/// </summary>
public sealed class RuleQuery
{
    public const string SqlVersion = "2016-03-23";

    RuleQuery(string sql, string topicFilter)
    {
        Sql = sql;
        TopicFilter = topicFilter;
    }

    public string Sql { get; }

    /// <summary>The FROM topic filter.</summary>
    public string TopicFilter { get; }

    /// <summary>True when the query calls a function that needs <see cref="IRuleFunctionServices"/> (get_thing_shadow).</summary>
    public bool NeedsServices { get; }

    /// <summary>Parses and compiles; throws <see cref="RuleSqlException"/> with the line and column of the problem.</summary>
    public static RuleQuery Compile(string sql) => throw new NotImplementedException();

    /// <summary>
    /// WHERE then SELECT over one message. Not matched when WHERE is not true (false, Undefined or a
    /// type error). Use only when <see cref="NeedsServices"/> is false.
    /// </summary>
    public RuleEvaluation Evaluate(in RuleMessage message) => throw new NotImplementedException();

    /// <summary>Like <see cref="Evaluate"/>, for queries that call get_thing_shadow.</summary>
    public ValueTask<RuleEvaluation> EvaluateAsync(RuleMessage message, IRuleFunctionServices services, CancellationToken cancellationToken)
        => throw new NotImplementedException();
}

/// <summary>The result of a rule over one message: whether WHERE matched, and the SELECT output (UTF-8 JSON, or the raw payload for SELECT * over a non-JSON payload).</summary>
public readonly record struct RuleEvaluation(bool Matched, ReadOnlyMemory<byte> Output)
{
    public static RuleEvaluation NotMatched => default;
}
