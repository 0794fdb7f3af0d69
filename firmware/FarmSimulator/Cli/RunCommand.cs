using System.Runtime.InteropServices;
using FarmSimulator.Simulation;
using FarmSimulator.Status;

namespace FarmSimulator.Cli;

/// <summary>
/// <c>run --host 127.0.0.1 --port 8883 --certs DIR [--sensors 20] [--pumps 5] [--farm farmA]
/// [--interval 5] [--duration 0] [--seed 1]</c>: runs the farm until Ctrl+C/SIGTERM or for
/// <c>--duration</c> seconds (0 = until stopped).
/// </summary>
public sealed record RunCommand(FarmSimulationOptions Simulation, TimeSpan Duration)
{
    public static readonly string[] Options = ["host", "port", "certs", "sensors", "pumps", "farm", "interval", "duration", "seed"];

    public static RunCommand Parse(IReadOnlyList<string> args)
    {
        var parsed = CommandLineArguments.Parse(args, Options);
        var simulation = new FarmSimulationOptions(
            parsed.GetString("host", "127.0.0.1"),
            parsed.GetInt32("port", 8883, 1, 65535),
            parsed.GetRequiredString("certs"),
            FarmOptions.Sensors(parsed),
            FarmOptions.Pumps(parsed),
            FarmOptions.Farm(parsed),
            TimeSpan.FromSeconds(parsed.GetDouble("interval", 5, 0.1, 86_400)),
            parsed.GetInt32("seed", 1, int.MinValue, int.MaxValue));
        return new RunCommand(simulation, TimeSpan.FromSeconds(parsed.GetDouble("duration", 0, 0, 365 * 86_400)));
    }

    /// <summary>Runs until <paramref name="cancellationToken"/>, Ctrl+C, SIGTERM or the duration ends; then disconnects every device.</summary>
    public async Task<int> ExecuteAsync(TextWriter output, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });
        if (Duration > TimeSpan.Zero)
        {
            stop.CancelAfter(Duration);
        }

        var time = TimeProvider.System;
        FarmSimulation? simulation = null;
        var reporter = new StatusReporter(output, !Console.IsOutputRedirected, () => simulation!.GetStatus(), time, TerminalWidth);
        try
        {
            var options = Simulation;
            simulation = new FarmSimulation(options, time, reporter.Log);
            output.WriteLine($"farm {options.Farm}: {options.Sensors} sensors, {options.Pumps} pumps -> {options.Host}:{options.Port}, reading every {options.Interval.TotalSeconds:0.###} s"
                + (Duration > TimeSpan.Zero ? $", for {Duration.TotalSeconds:0} s" : "; Ctrl+C stops"));
            var status = reporter.RunAsync(stop.Token);
            await simulation.RunAsync(stop.Token);
            await status;
            reporter.Finish();
            output.WriteLine("disconnecting...");
            return 0;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            if (simulation is not null)
            {
                await simulation.DisposeAsync();
            }
        }
    }

    static int TerminalWidth()
    {
        try
        {
            return Console.WindowWidth;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
