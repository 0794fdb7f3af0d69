using System.ComponentModel.DataAnnotations;
using IoTServerless.Core.Storage;

namespace IoTServerless.Core.Rules;

/// <summary>The rules engine's settings (configuration section <c>Rules</c>).</summary>
public sealed class RulesOptions
{
    public const string SectionName = "Rules";

    /// <summary>The table the rules are stored in (one entity per rule). The broker reads the same table.</summary>
    [Required, RegularExpression("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    public string TableName { get; set; } = TableNames.Rules;

    /// <summary>
    /// How old the engine's compiled rule set may get before it is read again from the table. Changes
    /// made through this process's <see cref="TopicRuleService"/> apply at once.
    /// </summary>
    [Range(0, 600_000)]
    public int RefreshMilliseconds { get; set; } = 2_000;

    /// <summary>How often an action handler tries an operation that failed transiently (first try included).</summary>
    [Range(1, 10)]
    public int ActionAttempts { get; set; } = 3;

    /// <summary>The pause before the first retry of an action; doubled for each further retry.</summary>
    [Range(0, 60_000)]
    public int ActionRetryDelayMilliseconds { get; set; } = 200;

    /// <summary>
    /// How many times one message may make a batch fail with an infrastructure error that no errorAction
    /// took (so the event is redelivered) before the engine gives up on it and drops it with an error log.
    /// </summary>
    [Range(0, 100)]
    public int MaxRedeliveries { get; set; } = 3;

    /// <summary>Rules of one batch evaluated at once (they may read shadows).</summary>
    [Range(1, 256)]
    public int MaxConcurrentEvaluations { get; set; } = 16;
}
