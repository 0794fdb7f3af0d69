namespace IoTServerless.Device;

/// <summary>Capped exponential backoff with "equal jitter": a delay in [d/2, d] where d = min(max, initial·2^attempt).</summary>
internal static class ReconnectBackoff
{
    public static TimeSpan GetDelay(int attempt, TimeSpan initial, TimeSpan max, Random random)
    {
        if (initial <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }
        var exponent = Math.Clamp(attempt, 0, 30);
        var capped = Math.Min(max.TotalMilliseconds, initial.TotalMilliseconds * Math.Pow(2, exponent));
        capped = Math.Max(capped, 0);
        return TimeSpan.FromMilliseconds((capped / 2) + (random.NextDouble() * capped / 2));
    }
}
