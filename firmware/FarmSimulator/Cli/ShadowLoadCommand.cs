using System.Text.Json;
using FarmSimulator.Load;
using FarmSimulator.Simulation;

namespace FarmSimulator.Cli;

/// <summary>
/// <c>shadow-load --host 127.0.0.1 --port 8883 --certs DIR [--things 1000] [--rate 200] [--duration 20] [--warmup 5]</c>:
/// the shadow benchmark (see <see cref="ShadowLoad"/>) over things soil-001.. (certificates from <c>certs --sensors N</c>).
/// Prints a table and one <c>RESULT {json}</c> line.
/// </summary>
public sealed record ShadowLoadCommand(ShadowLoadOptions Load)
{
    static readonly JsonSerializerOptions ResultJson = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public static readonly string[] Options = ["host", "port", "certs", "things", "rate", "duration", "warmup"];

    public static ShadowLoadCommand Parse(IReadOnlyList<string> args)
    {
        var parsed = CommandLineArguments.Parse(args, Options);
        return new ShadowLoadCommand(new ShadowLoadOptions(
            parsed.GetString("host", "127.0.0.1"),
            parsed.GetInt32("port", 8883, 1, 65535),
            parsed.GetRequiredString("certs"),
            [.. FarmNaming.SensorNames(parsed.GetInt32("things", 1000, 1, 20_000))],
            parsed.GetDouble("rate", 200, 1, 100_000),
            TimeSpan.FromSeconds(parsed.GetDouble("duration", 20, 1, 3600)),
            TimeSpan.FromSeconds(parsed.GetDouble("warmup", 5, 0, 600))));
    }

    public async Task<int> ExecuteAsync(TextWriter output, CancellationToken cancellationToken)
    {
        await using var load = new ShadowLoad(Load, output.WriteLine);
        var r = await load.RunAsync(cancellationToken);
        output.WriteLine();
        output.WriteLine($"| {r.Things} things | broker-only echo (baseline) | shadow update → accepted | shadow / baseline |");
        output.WriteLine("|---|---:|---:|---:|");
        output.WriteLine($"| p50 ms at {r.Rate:0}/s | {r.EchoLatency.P50:0.0} | {r.ShadowLatency.P50:0.0} | {r.ShadowLatency.P50 / r.EchoLatency.P50:0.0}× |");
        output.WriteLine($"| p99 ms at {r.Rate:0}/s | {r.EchoLatency.P99:0.0} | {r.ShadowLatency.P99:0.0} | {r.ShadowLatency.P99 / r.EchoLatency.P99:0.0}× |");
        output.WriteLine($"| closed loop, per s | {r.EchoPerSecond:0} | {r.ShadowUpdatesPerSecond:0} | {r.ShadowUpdatesPerSecond / r.EchoPerSecond:0.00}× |");
        output.WriteLine($"rejected {r.Rejected}, timed out {r.TimedOut}");
        output.WriteLine("RESULT " + JsonSerializer.Serialize(r, ResultJson));
        return r.TimedOut == 0 ? 0 : 1;
    }
}
