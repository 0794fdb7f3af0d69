namespace IoTServerless.Core.Rules.Sql;

/// <summary>
/// What a rule's SQL and its substitution templates see of one message: the payload and the context
/// read by topic(), clientid(), principal() and timestamp(). <see cref="Timestamp"/> is the broker's
/// receive time, so a redelivered message evaluates to the same result (idempotent actions).
/// </summary>
public readonly record struct RuleMessage(
    string Topic,
    ReadOnlyMemory<byte> Payload,
    string? ClientId,
    string? Principal,
    long Timestamp,
    string? MessageId = null);
