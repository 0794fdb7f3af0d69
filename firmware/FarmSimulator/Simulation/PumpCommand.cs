using System.Text.Json;

namespace FarmSimulator.Simulation;

public enum PumpCommandKind
{
    On,
    Off,
}

/// <summary>A parsed pump command; <see cref="Duration"/> matters for <see cref="PumpCommandKind.On"/> only.</summary>
public readonly record struct PumpCommand(PumpCommandKind Kind, TimeSpan Duration)
{
    public static readonly TimeSpan DefaultDuration = TimeSpan.FromSeconds(600);

    /// <summary>Longer requested durations are cut to this.</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromHours(1);

    /// <summary>
    /// Parses <c>{"command":"ON","duration":600}</c> (duration in seconds, optional, default 600, capped
    /// at one hour) or <c>{"command":"OFF"}</c>. The command is case-insensitive; other properties are
    /// ignored. Anything else — invalid JSON, not an object, a missing or unknown command, a duration
    /// that is not a positive number — is rejected.
    /// </summary>
    public static bool TryParse(ReadOnlyMemory<byte> utf8Json, out PumpCommand command)
    {
        command = default;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8Json);
        }
        catch (JsonException)
        {
            return false;
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("command", out var kindElement)
                || kindElement.ValueKind != JsonValueKind.String)
            {
                return false;
            }
            var kind = kindElement.GetString();
            if (string.Equals(kind, "OFF", StringComparison.OrdinalIgnoreCase))
            {
                command = new PumpCommand(PumpCommandKind.Off, TimeSpan.Zero);
                return true;
            }
            if (!string.Equals(kind, "ON", StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
            var duration = DefaultDuration;
            if (root.TryGetProperty("duration", out var durationElement) && durationElement.ValueKind != JsonValueKind.Null)
            {
                if (durationElement.ValueKind != JsonValueKind.Number
                    || !durationElement.TryGetDouble(out var seconds)
                    || !double.IsFinite(seconds)
                    || seconds <= 0)
                {
                    return false;
                }
                duration = seconds >= MaxDuration.TotalSeconds ? MaxDuration : TimeSpan.FromSeconds(seconds);
            }
            command = new PumpCommand(PumpCommandKind.On, duration);
            return true;
        }
    }
}
