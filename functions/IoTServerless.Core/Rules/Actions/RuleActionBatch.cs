using Microsoft.Extensions.Logging;

namespace IoTServerless.Core.Rules.Actions;

/// <summary>Runs a batch's invocations with bounded concurrency; one result per invocation, an unexpected exception becoming that invocation's error.</summary>
internal static class RuleActionBatch
{
    public static async Task<IReadOnlyList<string?>> RunAsync(
        IReadOnlyList<RuleActionInvocation> invocations,
        int maxConcurrency,
        Func<RuleActionInvocation, CancellationToken, Task<string?>> run,
        CancellationToken cancellationToken)
    {
        var results = new string?[invocations.Count];
        if (invocations.Count == 1)
        {
            results[0] = await RunOneAsync(invocations[0], run, cancellationToken);
            return results;
        }
        await Parallel.ForEachAsync(
            Enumerable.Range(0, invocations.Count),
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, maxConcurrency), CancellationToken = cancellationToken },
            async (i, ct) => results[i] = await RunOneAsync(invocations[i], run, ct));
        return results;
    }

    /// <summary>Like <see cref="RunAsync(IReadOnlyList{RuleActionInvocation}, int, Func{RuleActionInvocation, CancellationToken, Task{string}}, CancellationToken)"/>, logging each failure with the handler's kind and resource.</summary>
    public static Task<IReadOnlyList<string?>> RunAsync(
        IRuleActionHandler handler,
        IReadOnlyList<RuleActionInvocation> invocations,
        int maxConcurrency,
        Func<RuleActionInvocation, CancellationToken, Task<string?>> run,
        ILogger logger,
        CancellationToken cancellationToken)
        => RunAsync(invocations, maxConcurrency, async (invocation, ct) =>
        {
            var error = await run(invocation, ct);
            if (error is not null)
            {
                logger.LogWarning("Rule {RuleName} action {ActionKind} to {Resource} failed for message {MessageId}: {Error}",
                    invocation.RuleName, handler.Kind, handler.Resource(invocation.Action), RuleActionContent.MessageId(invocation.Message), error);
            }
            return error;
        }, cancellationToken);

    static async Task<string?> RunOneAsync(RuleActionInvocation invocation, Func<RuleActionInvocation, CancellationToken, Task<string?>> run, CancellationToken cancellationToken)
    {
        try
        {
            return await run(invocation, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            return $"{e.GetType().Name}: {RuleActionRetry.FirstLine(e.Message)}";
        }
    }
}
