using Azure;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Rules.Actions;

/// <summary>
/// The <c>queue</c> action (SQS's place): sends the SELECT output, as it is, to a Storage queue,
/// created on first use. The message body is the output's bytes base64-encoded (what Azure Functions
/// queue triggers expect by default; a queue trigger binding to string/POCO sees the JSON text).
/// Delivery is at least once: a redelivered or retried message can be enqueued twice, so consumers
/// de-duplicate on an id in the output (e.g. SELECT clientid(), timestamp() or a device sequence number).
/// A queue message holds at most 64 KiB encoded, so outputs above 48 KiB fail (use the blob action).
/// </summary>
public sealed class QueueActionHandler : IRuleActionHandler
{
    /// <summary>64 KiB of base64 holds 48 KiB of output.</summary>
    public const int MaxOutputBytes = 48 * 1024;

    readonly RuleStorageClientProvider _storage;
    readonly RuleActionOptions _options;
    readonly RuleActionRetry _retry;
    readonly ILogger<QueueActionHandler> _logger;

    public QueueActionHandler(RuleStorageClientProvider storage, IOptions<RuleActionOptions> options, ILogger<QueueActionHandler> logger, TimeProvider? time = null)
    {
        _storage = storage;
        _options = options.Value;
        _retry = new RuleActionRetry(_options, time ?? TimeProvider.System);
        _logger = logger;
    }

    public string Kind => "queue";

    public string Resource(RuleAction action) => action.Queue?.QueueName ?? "";

    public IReadOnlyList<string> Validate(RuleAction action)
    {
        if (action.Queue is not { } queue)
        {
            return ["queue: is required"];
        }
        return RuleActionContent.IsStorageName(queue.QueueName ?? "")
            ? []
            : [$"queueName: '{queue.QueueName}' is not a valid queue name (3–63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit)"];
    }

    public Task<IReadOnlyList<string?>> ExecuteAsync(IReadOnlyList<RuleActionInvocation> invocations, CancellationToken cancellationToken)
        => RuleActionBatch.RunAsync(this, invocations, _options.MaxConcurrency, SendAsync, _logger, cancellationToken);

    async Task<string?> SendAsync(RuleActionInvocation invocation, CancellationToken cancellationToken)
    {
        if (invocation.Action.Queue is not { } action)
        {
            return "not a queue action";
        }
        if (!RuleActionContent.IsStorageName(action.QueueName ?? ""))
        {
            return $"queueName: '{action.QueueName}' is not a valid queue name";
        }
        if (invocation.Output.Length > MaxOutputBytes)
        {
            return $"the output ({invocation.Output.Length} bytes) is larger than a queue message may hold ({MaxOutputBytes} bytes); use the blob action";
        }
        var body = BinaryData.FromBytes(invocation.Output);
        return await _retry.RunAsync(async ct =>
        {
            var queue = await _storage.GetQueueAsync(action.QueueName!, ct);
            try
            {
                await queue.SendMessageAsync(body, cancellationToken: ct);
                return ActionAttempt.Success;
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                // Deleted since we created it: create it again on the next attempt.
                _storage.ForgetQueue(action.QueueName!);
                return ActionAttempt.Transient($"status 404 {e.ErrorCode}: the queue was not found");
            }
        }, cancellationToken);
    }
}
