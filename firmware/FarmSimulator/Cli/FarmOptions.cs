namespace FarmSimulator.Cli;

/// <summary>Options shared by both commands: how big the farm is and its topic prefix.</summary>
public static class FarmOptions
{
    public const int DefaultSensors = 20;
    public const int DefaultPumps = 5;
    public const string DefaultFarm = "farmA";
    public const int MaxDevices = 100_000;

    public static int Sensors(CommandLineArguments args) => args.GetInt32("sensors", DefaultSensors, 0, MaxDevices);

    public static int Pumps(CommandLineArguments args) => args.GetInt32("pumps", DefaultPumps, 0, MaxDevices);

    /// <summary>The farm name is the first topic level: no MQTT wildcards, separators or leading '$'.</summary>
    public static string Farm(CommandLineArguments args)
    {
        var farm = args.GetString("farm", DefaultFarm);
        if (farm.Length is 0 or > 64 || farm.StartsWith('$') || farm.IndexOfAny(['/', '+', '#', '\0']) >= 0)
        {
            throw new CommandLineException($"Option --farm must be one topic level without '/', '+', '#' or a leading '$', not '{farm}'.");
        }
        return farm;
    }
}
