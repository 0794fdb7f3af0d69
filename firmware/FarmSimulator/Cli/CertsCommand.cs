using FarmSimulator.Certificates;
using FarmSimulator.Simulation;

namespace FarmSimulator.Cli;

/// <summary><c>certs --out DIR [--sensors 20] [--pumps 5] [--farm farmA]</c>: creates the local dev PKI (reusing what exists).</summary>
public sealed record CertsCommand(string OutputDirectory, int Sensors, int Pumps, string Farm)
{
    public static readonly string[] Options = ["out", "sensors", "pumps", "farm"];

    public static CertsCommand Parse(IReadOnlyList<string> args)
    {
        var parsed = CommandLineArguments.Parse(args, Options);
        return new CertsCommand(parsed.GetRequiredString("out"), FarmOptions.Sensors(parsed), FarmOptions.Pumps(parsed), FarmOptions.Farm(parsed));
    }

    public IEnumerable<string> ThingNames => FarmNaming.SensorNames(Sensors).Concat(FarmNaming.PumpNames(Pumps));

    public DevPkiResult Execute(TextWriter output)
    {
        var result = DevPki.Ensure(OutputDirectory, ThingNames);
        var directory = Path.GetFullPath(OutputDirectory);
        output.WriteLine($"dev PKI in {directory} (farm {Farm}: {Sensors} sensors, {Pumps} pumps)");
        Print(output, "created", result.Created);
        Print(output, "replaced (missing key, expiring or not issued by this CA)", result.Replaced);
        if (result.Kept.Count > 0)
        {
            output.WriteLine($"  kept {result.Kept.Count} existing files");
        }
        return result;
    }

    static void Print(TextWriter output, string what, IReadOnlyList<string> files)
    {
        if (files.Count == 0)
        {
            return;
        }
        output.WriteLine($"  {what} ({files.Count}):");
        foreach (var file in files)
        {
            output.WriteLine($"    {file}");
        }
    }
}
