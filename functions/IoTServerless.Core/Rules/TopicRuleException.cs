namespace IoTServerless.Core.Rules;

/// <summary>AWS IoT's rule control-plane errors.</summary>
public enum TopicRuleError
{
    /// <summary>400 InvalidRequestException.</summary>
    InvalidRequest,

    /// <summary>400 SqlParseException: the SQL does not compile (with its line and column).</summary>
    SqlParse,

    /// <summary>404 ResourceNotFoundException.</summary>
    ResourceNotFound,

    /// <summary>409 ResourceAlreadyExistsException.</summary>
    ResourceAlreadyExists,

    /// <summary>409 ConflictingResourceUpdateException (a concurrent change kept winning).</summary>
    ConflictingResourceUpdate,
}

/// <summary>A rule request that was refused; nothing was stored.</summary>
public sealed class TopicRuleException(TopicRuleError error, string message, IReadOnlyList<string>? problems = null, int? line = null, int? column = null)
    : ControlPlaneException(StatusOf(error), CodeOf(error), message)
{
    public TopicRuleError Error { get; } = error;

    /// <summary>Every problem found, each naming the field (e.g. <c>actions[1].table.tableName</c>).</summary>
    public IReadOnlyList<string> Problems { get; } = problems ?? [message];

    /// <summary>For a SQL problem: 1-based line of the SQL.</summary>
    public int? Line { get; } = line;

    /// <summary>For a SQL problem: 1-based column of the SQL.</summary>
    public int? Column { get; } = column;

    static int StatusOf(TopicRuleError error) => error switch
    {
        TopicRuleError.InvalidRequest or TopicRuleError.SqlParse => 400,
        TopicRuleError.ResourceNotFound => 404,
        _ => 409,
    };

    static string CodeOf(TopicRuleError error) => error switch
    {
        TopicRuleError.SqlParse => "SqlParseException",
        TopicRuleError.ConflictingResourceUpdate => "ConflictingResourceUpdateException",
        _ => error + "Exception",
    };

    public static TopicRuleException Invalid(string message) => new(TopicRuleError.InvalidRequest, message);

    public static TopicRuleException NotFound(string ruleName) => new(TopicRuleError.ResourceNotFound, $"Rule {ruleName} does not exist.");
}
