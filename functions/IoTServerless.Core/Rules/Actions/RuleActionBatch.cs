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
