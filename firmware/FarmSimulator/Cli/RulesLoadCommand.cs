using System.Text.Json;
using FarmSimulator.Load;
using FarmSimulator.Provisioning;
using FarmSimulator.Simulation;

namespace FarmSimulator.Cli;

/// <summary>
/// <c>rules-load --host 127.0.0.1 --port 8883 --certs DIR [--sensors 1000] [--messages 20] [--farm farmA] [--drain 120]</c>:
/// the rules engine's end-to-end benchmark (see <see cref="RulesLoad"/>). The storage connection
/// string is read from the environment variable <c>STORAGE_CONNECTION_STRING</c>. Prints a table and
/// one <c>RESULT {json}</c> line; exits 1 when a reading was lost.
/// </summary>
public sealed record RulesLoadCommand(RulesLoadOptions Load)
{
    public const string StorageVariable = "STORAGE_CONNECTION_STRING";
    public static readonly string[] Options = ["host", "port", "certs", "sensors", "messages", "farm", "drain"];

    public static RulesLoadCommand Parse(IReadOnlyList<string> args)
    {
        var parsed = CommandLineArguments.Parse(args, Options);
        var storage = Environment.GetEnvironmentVariable(StorageVariable);
        if (string.IsNullOrEmpty(storage))
        {
            throw new CommandLineException($"Set {StorageVariable} to the stack's storage connection string.");
        }
        return new RulesLoadCommand(new RulesLoadOptions(
            parsed.GetString("host", "127.0.0.1"),
            parsed.GetInt32("port", 8883, 1, 65535),
            parsed.GetRequiredString("certs"),
            [.. FarmNaming.SensorNames(parsed.GetInt32("sensors", 1000, 1, 20_000))],
            parsed.GetInt32("messages", 20, 1, 100_000),
            storage,
            FarmRules.TelemetryTable,
            FarmOptions.Farm(parsed),
            TimeSpan.FromSeconds(parsed.GetDouble("drain", 120, 1, 3600))));
    }

    public async Task<int> ExecuteAsync(TextWriter output, CancellationToken cancellationToken)
    {
        await using var load = new RulesLoad(Load, output.WriteLine);
        var r = await load.RunAsync(cancellationToken);
        output.WriteLine();
        output.WriteLine($"| {r.Sensors} sensors, {r.Messages} QoS 1 readings | rows/s | stack / this |");
        output.WriteLine("|---|---:|---:|");
        output.WriteLine($"| Azurite batch insert (100-row transactions) | {r.AzuriteBatchRowsPerSecond:0} | {r.StoredRowsPerSecond / r.AzuriteBatchRowsPerSecond:0.00}× |");
        output.WriteLine($"| Azurite single-row upserts | {r.AzuriteSingleRowsPerSecond:0} | {r.StoredRowsPerSecond / r.AzuriteSingleRowsPerSecond:0.00}× |");
        output.WriteLine($"| stack: sensor → broker → SoilTelemetry → IoTSensorData | {r.StoredRowsPerSecond:0} | |");
        output.WriteLine($"published (PUBACKed) {r.PublishedPerSecond:0} msg/s; rows stored {r.RowsStored}; lost {r.Lost}; publish failures {r.PublishFailures}");
        output.WriteLine("RESULT " + JsonSerializer.Serialize(r));
        return r.Lost == 0 ? 0 : 1;
    }
}
