namespace FarmSimulator.Cli;

/// <summary>Picks the command from the first argument; usage errors exit with 2, failures with 1.</summary>
public static class CommandDispatcher
{
    public const string Usage = """
        usage:
          FarmSimulator certs --out DIR [--sensors 20] [--pumps 5] [--farm farmA]
              Creates the local dev PKI in DIR (reusing existing files, never overwriting a CA):
              ca.crt/ca.key, server.crt/server.key (localhost, 127.0.0.1, ::1), devices/{thing}.crt/.key.
          FarmSimulator run --host 127.0.0.1 --port 8883 --certs DIR [--sensors 20] [--pumps 5] [--farm farmA]
                            [--interval 5] [--duration 0] [--seed 1]
              Runs soil sensors (soil-001..) and pumps (pump-001..), one TLS connection each.
              --interval: seconds between a sensor's readings; --duration: seconds (0 = until Ctrl+C).
              Sensor i is watered by pump ((i-1) mod pumps)+1.
          FarmSimulator provision --api http://127.0.0.1:7071 --certs DIR [--sensors 20] [--pumps 5] [--farm farmA] [--rules true]
              Registers the farm through the platform API (key in $FUNCTION_KEY): least-privilege policies,
              one thing per device (sensors carry their pump), each certificate ACTIVE and attached, and a
              read-only farm-monitor identity (certificate from CreateKeysAndCertificate, saved in DIR/devices),
              and (unless --rules false) the irrigation loop's rules SoilTelemetry and LowHumidity.
          FarmSimulator shadow-load --host 127.0.0.1 --port 8883 --certs DIR [--things 1000] [--rate 200] [--duration 20] [--warmup 5]
              The shadow benchmark (scripts/bench-shadow.sh runs it): things soil-001.. each on its own TLS
              connection; shadow update -> update/accepted round trip at a steady rate and closed-loop
              updates per second, each next to the broker-only echo baseline of the same run.
          FarmSimulator rules-load --host 127.0.0.1 --port 8883 --certs DIR [--sensors 1000] [--messages 20] [--farm farmA] [--drain 120]
              The rules benchmark (scripts/bench-rules.sh runs it; storage in $STORAGE_CONNECTION_STRING): QoS 1
              readings through the SoilTelemetry rule into IoTSensorData, rows per second and rows lost, next to
              Azurite's own batch-insert and single-row rates measured in the same run.
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            (args.Length == 0 ? error : output).WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        try
        {
            switch (args[0])
            {
                case "certs":
                    CertsCommand.Parse(args[1..]).Execute(output);
                    return 0;
                case "run":
                    return await RunCommand.Parse(args[1..]).ExecuteAsync(output, cancellationToken);
                case "provision":
                    return await ProvisionCommand.Parse(args[1..]).ExecuteAsync(output, cancellationToken);
                case "shadow-load":
                    return await ShadowLoadCommand.Parse(args[1..]).ExecuteAsync(output, cancellationToken);
                case "rules-load":
                    return await RulesLoadCommand.Parse(args[1..]).ExecuteAsync(output, cancellationToken);
                default:
                    throw new CommandLineException($"Unknown command '{args[0]}'.");
            }
        }
        catch (CommandLineException ex)
        {
            error.WriteLine(ex.Message);
            error.WriteLine(Usage);
            return 2;
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or HttpRequestException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            error.WriteLine($"error: {ex.Message}");
            return 1;
        }
    }
}
