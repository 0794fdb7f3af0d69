using System.Text.Json;
using System.Text.Json.Nodes;

namespace FarmSimulator.Simulation;

/// <summary>What a <c>desired</c> (or <c>delta</c>) section asks of a pump.</summary>
public enum PumpShadowRequestKind
{
    /// <summary>Neither <c>pump</c> nor <c>runSeconds</c>: nothing asked.</summary>
    None,

    /// <summary>A valid request, turned into a <see cref="PumpCommand"/>.</summary>
    Command,

    /// <summary><c>pump</c> missing or not ON/OFF, or <c>runSeconds</c> not a positive number.</summary>
    Invalid,
}

/// <summary>
/// The pump's shadow documents (pure functions; <see cref="PumpDevice"/> does the talking).
/// <list type="bullet">
/// <item>Reported: <c>{"pump":"ON","onUntil":1764340200}</c> while running (<c>onUntil</c> in epoch
/// seconds), <c>{"pump":"OFF","onUntil":null}</c> when off (null removes the key, so the stored
/// reported section of an idle pump is <c>{"pump":"OFF"}</c>).</item>
/// <item>Desired: <c>{"pump":"ON","runSeconds":300}</c> asks for a run (<c>runSeconds</c> optional,
/// default 600, capped at 3600 — like the command's <c>duration</c>); <c>{"pump":"OFF"}</c> asks for
/// a stop. ON/OFF are case-insensitive.</item>
/// <item>A desired request is one-shot, like a command: the pump applies it and every update the
/// pump sends (<see cref="Update"/>) reports its state and removes <c>desired.pump</c> and
/// <c>desired.runSeconds</c>. So a fulfilled request leaves no delta, and a request overtaken by a
/// command or by the end of a run never turns the pump back on or off later.</item>
/// </list>
/// </summary>
public static class PumpShadow
{
    public const string PumpKey = "pump";
    public const string RunSecondsKey = "runSeconds";
    public const string OnUntilKey = "onUntil";

    /// <summary>The reported section for a pump on until <paramref name="onUntil"/> (null: off).</summary>
    public static JsonObject Reported(DateTimeOffset? onUntil) => new()
    {
        [PumpKey] = onUntil is null ? "OFF" : "ON",
        [OnUntilKey] = onUntil is { } until ? JsonValue.Create(until.ToUnixTimeSeconds()) : null,
    };

    /// <summary>The state of every update the pump sends: its reported state, and any desired request withdrawn.</summary>
    public static JsonObject Update(DateTimeOffset? onUntil) => new()
    {
        ["desired"] = new JsonObject { [PumpKey] = null, [RunSecondsKey] = null },
        ["reported"] = Reported(onUntil),
    };

    /// <summary>True when the section mentions the pump at all (<c>pump</c> or <c>runSeconds</c>).</summary>
    public static bool MentionsPump(JsonObject? section)
        => section is not null && (section.ContainsKey(PumpKey) || section.ContainsKey(RunSecondsKey));

    /// <summary>Reads the request in a <c>desired</c> or <c>delta</c> section.</summary>
    public static PumpShadowRequestKind ReadRequest(JsonObject? section, out PumpCommand command)
    {
        command = default;
        if (!MentionsPump(section))
        {
            return PumpShadowRequestKind.None;
        }
        if (section![PumpKey] is not JsonValue pump || pump.GetValueKind() != JsonValueKind.String)
        {
            return PumpShadowRequestKind.Invalid;
        }
        var kind = pump.GetValue<string>();
        if (string.Equals(kind, "OFF", StringComparison.OrdinalIgnoreCase))
        {
            command = new PumpCommand(PumpCommandKind.Off, TimeSpan.Zero);
            return PumpShadowRequestKind.Command;
        }
        if (!string.Equals(kind, "ON", StringComparison.OrdinalIgnoreCase))
        {
            return PumpShadowRequestKind.Invalid;
        }
        var duration = PumpCommand.DefaultDuration;
        if (section[RunSecondsKey] is { } runSeconds)
        {
            if (runSeconds is not JsonValue value
                || value.GetValueKind() != JsonValueKind.Number
                || !value.TryGetValue(out double seconds)
                || !double.IsFinite(seconds)
                || seconds <= 0)
            {
                return PumpShadowRequestKind.Invalid;
            }
            duration = seconds >= PumpCommand.MaxDuration.TotalSeconds ? PumpCommand.MaxDuration : TimeSpan.FromSeconds(seconds);
        }
        command = new PumpCommand(PumpCommandKind.On, duration);
        return PumpShadowRequestKind.Command;
    }
}
