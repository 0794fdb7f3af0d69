using System.ComponentModel.DataAnnotations;

namespace IoTServerless.Core.Rules.Actions;

/// <summary>
/// How the rules engine's Azure actions (http, function, eventGrid, queue, blob) retry and reach
/// their targets. Section <c>Rules:Actions</c>.
/// </summary>
public sealed class RuleActionOptions
{
    public const string SectionName = "Rules:Actions";

    /// <summary>Attempts per invocation, the first included (1 = no retry).</summary>
    [Range(1, 20)]
    public int MaxAttempts { get; set; } = 4;

    /// <summary>Delay before the first retry; doubled each retry, with jitter (between half and all of it).</summary>
    public TimeSpan InitialDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Cap of one retry delay (also of a server's Retry-After that is honoured).</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Time limit of one attempt (an HTTP request, a storage or Event Grid call).</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Invocations of one batch run at once, per action kind.</summary>
    [Range(1, 256)]
    public int MaxConcurrency { get; set; } = 16;

    /// <summary>Client id of the user-assigned managed identity used for Event Grid (and function bearer tokens); empty for the default credential chain.</summary>
    public string? ManagedIdentityClientId { get; set; }

    /// <summary>
    /// Optional: the application ID URI (audience) of function apps protected by App Service
    /// authentication, e.g. <c>api://…</c>. When set, a function action without a <c>keySetting</c>
    /// and an https URL sends <c>Authorization: Bearer</c> with a managed-identity token for it.
    /// </summary>
    public string? FunctionAuthAudience { get; set; }
}
