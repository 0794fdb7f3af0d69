namespace IoTServerless.Core.Rules;

/// <summary>
/// A topic rule as AWS IoT's CreateTopicRule payload shapes it, with Azure actions in place of AWS's:
/// <c>{"sql", "description", "ruleDisabled", "awsIotSqlVersion", "actions": [{"table": {…}}], "errorAction": {…}}</c>.
/// </summary>
public sealed record TopicRule
{
    /// <summary>The rule name: 1–128 characters of [a-zA-Z0-9_].</summary>
    public required string RuleName { get; init; }

    public required string Sql { get; init; }

    public string? Description { get; init; }

    public bool RuleDisabled { get; init; }

    public string AwsIotSqlVersion { get; init; } = Rules.Sql.RuleQuery.SqlVersion;

    /// <summary>At most 10.</summary>
    public IReadOnlyList<RuleAction> Actions { get; init; } = [];

    /// <summary>Receives <see cref="RuleFailure"/> when an action fails after its retries.</summary>
    public RuleAction? ErrorAction { get; init; }

    public DateTimeOffset? CreatedAt { get; init; }
}

/// <summary>One action: exactly one of the properties is set (the AWS shape, one key per action).</summary>
public sealed record RuleAction
{
    public TableAction? Table { get; init; }

    public RepublishAction? Republish { get; init; }

    public HttpAction? Http { get; init; }

    public FunctionAction? Function { get; init; }

    public EventGridAction? EventGrid { get; init; }

    public QueueAction? Queue { get; init; }

    public BlobAction? Blob { get; init; }
}

/// <summary>A row per message in a Table storage table (DynamoDBv2's place): the SELECT output's top-level fields become columns. Keys are substitution templates.</summary>
public sealed record TableAction
{
    public required string TableName { get; init; }

    public string PartitionKey { get; init; } = "${topic()}";

    public string RowKey { get; init; } = "${timestamp()}";
}

/// <summary>Publishes the SELECT output through the broker; <c>$$aws/…</c> targets a reserved topic.</summary>
public sealed record RepublishAction
{
    public required string Topic { get; init; }

    public int Qos { get; init; }

    public bool Retain { get; init; }
}

/// <summary>POSTs the SELECT output to a webhook (HTTPS, or HTTP on loopback).</summary>
public sealed record HttpAction
{
    public required string Url { get; init; }

    public IReadOnlyList<HttpActionHeader> Headers { get; init; } = [];
}

public sealed record HttpActionHeader(string Key, string Value);

/// <summary>
/// POSTs the SELECT output to another function's HTTP endpoint (Lambda's place). The function key,
/// when needed, is read from the app setting named by <see cref="KeySetting"/>; rules hold no secrets.
/// </summary>
public sealed record FunctionAction
{
    public required string Url { get; init; }

    public string? KeySetting { get; init; }
}

/// <summary>Publishes the SELECT output as a CloudEvent to an Event Grid topic (identity-based).</summary>
public sealed record EventGridAction
{
    public required string TopicEndpoint { get; init; }

    public string Type { get; init; } = "IoTServerless.Rules.Message";

    public string? Subject { get; init; }
}

/// <summary>Sends the SELECT output to a Storage queue (SQS's place).</summary>
public sealed record QueueAction
{
    public required string QueueName { get; init; }
}

/// <summary>Writes the SELECT output to a blob (S3's place); the blob name is a substitution template.</summary>
public sealed record BlobAction
{
    public required string ContainerName { get; init; }

    public required string BlobName { get; init; }
}

/// <summary>What an errorAction receives (the AWS document).</summary>
public sealed record RuleFailure
{
    public required string RuleName { get; init; }

    public required string Topic { get; init; }

    public string? ClientId { get; init; }

    public required string Base64OriginalPayload { get; init; }

    public required IReadOnlyList<RuleActionFailure> Failures { get; init; }
}

public sealed record RuleActionFailure(string FailedAction, string FailedResource, string ErrorMessage);
