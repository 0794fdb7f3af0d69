using System.Net.Sockets;
using Azure;

namespace IoTServerless.Core.Rules.Actions;

/// <summary>The outcome of one attempt: done, worth another try, or failed for good.</summary>
internal readonly record struct ActionAttempt(ActionAttemptOutcome Outcome, string? Error, TimeSpan? RetryAfter = null)
{
    public static ActionAttempt Success { get; } = new(ActionAttemptOutcome.Success, null);

    public static ActionAttempt Transient(string error, TimeSpan? retryAfter = null) => new(ActionAttemptOutcome.Transient, error, retryAfter);

    public static ActionAttempt Permanent(string error) => new(ActionAttemptOutcome.Permanent, error);
}

internal enum ActionAttemptOutcome
{
    Success,
    Transient,
    Permanent,
}

/// <summary>
/// Retries an action's transient failures (network errors, timeouts, 408, 429, 5xx) with exponential
/// backoff and jitter; other failures end at once. Returns null on success, else the last error.
/// </summary>
internal sealed class RuleActionRetry(RuleActionOptions options, TimeProvider time)
{
    public int MaxAttempts => Math.Max(1, options.MaxAttempts);

    public async Task<string?> RunAsync(Func<CancellationToken, Task<ActionAttempt>> attempt, CancellationToken cancellationToken)
    {
        for (var n = 1; ; n++)
        {
            ActionAttempt result;
            try
            {
                result = await attempt(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e)
            {
                result = Classify(e);
            }
            switch (result.Outcome)
            {
                case ActionAttemptOutcome.Success:
                    return null;
                case ActionAttemptOutcome.Permanent:
                    return result.Error;
            }
            if (n >= MaxAttempts)
            {
                return MaxAttempts == 1 ? result.Error : $"{result.Error} (gave up after {n} attempts)";
            }
            await Task.Delay(Backoff(n, result.RetryAfter), time, cancellationToken);
        }
    }

    /// <summary>The delay after attempt <paramref name="attempt"/>: InitialDelay·2^(n-1), capped, jittered to [½, 1]; at least a (capped) Retry-After.</summary>
    internal TimeSpan Backoff(int attempt, TimeSpan? retryAfter)
    {
        var initial = options.InitialDelay < TimeSpan.Zero ? TimeSpan.Zero : options.InitialDelay;
        var cap = options.MaxDelay < initial ? initial : options.MaxDelay;
        var exponential = initial.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 30));
        var delay = Math.Min(exponential, cap.TotalMilliseconds);
        delay = (delay / 2) + (Random.Shared.NextDouble() * delay / 2);
        if (retryAfter is { } after)
        {
            delay = Math.Max(delay, Math.Min(after.TotalMilliseconds, cap.TotalMilliseconds));
        }
        return TimeSpan.FromMilliseconds(delay);
    }

    /// <summary>Sorts an exception from an SDK or HTTP call into transient or permanent, with a message fit for the errorAction (no secrets, no headers).</summary>
    public static ActionAttempt Classify(Exception e) => e switch
    {
        RequestFailedException r when r.Status == 0 => ActionAttempt.Transient($"request failed: {FirstLine(r.InnerException?.Message ?? r.Message)}"),
        RequestFailedException r when IsTransientStatus(r.Status) => ActionAttempt.Transient(Describe(r)),
        RequestFailedException r => ActionAttempt.Permanent(Describe(r)),
        HttpRequestException h => ActionAttempt.Transient($"request failed: {FirstLine(h.Message)}"),
        OperationCanceledException or TimeoutException => ActionAttempt.Transient("timed out"),
        IOException or SocketException => ActionAttempt.Transient($"request failed: {FirstLine(e.Message)}"),
        AggregateException { InnerExceptions.Count: > 0 } a => Classify(a.InnerExceptions[0]),
        _ => ActionAttempt.Permanent($"{e.GetType().Name}: {FirstLine(e.Message)}"),
    };

    public static bool IsTransientStatus(int status) => status is 408 or 429 or >= 500;

    static string Describe(RequestFailedException r)
    {
        var code = string.IsNullOrEmpty(r.ErrorCode) ? "" : $" {r.ErrorCode}";
        var line = FirstLine(r.Message);
        // The SDK's generated message starts "Service request failed." and repeats the status; the error code says more.
        return line.StartsWith("Service request failed", StringComparison.Ordinal) || line.Length == 0
            ? $"status {r.Status}{code}"
            : $"status {r.Status}{code}: {line}";
    }

    internal static string FirstLine(string message)
    {
        var end = message.IndexOfAny(['\r', '\n']);
        var line = end < 0 ? message : message[..end];
        return line.Length > 300 ? line[..300] : line;
    }
}
