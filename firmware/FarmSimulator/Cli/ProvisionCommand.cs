using FarmSimulator.Provisioning;

namespace FarmSimulator.Cli;

/// <summary>
/// <c>provision --api URL --certs DIR [--sensors 20] [--pumps 5] [--farm farmA]</c>: registers the farm
/// through the platform's HTTP API. The function key is read from the environment variable
/// <c>FUNCTION_KEY</c>, never from the command line (it would show in process listings).
/// </summary>
public sealed record ProvisionCommand(Uri Api, string CertificatesDirectory, int Sensors, int Pumps, string Farm)
{
    public const string KeyVariable = "FUNCTION_KEY";
    public static readonly string[] Options = ["api", "certs", "sensors", "pumps", "farm"];

    public static ProvisionCommand Parse(IReadOnlyList<string> args)
    {
        var parsed = CommandLineArguments.Parse(args, Options);
        if (!Uri.TryCreate(parsed.GetRequiredString("api"), UriKind.Absolute, out var api))
        {
            throw new CommandLineException("--api must be an absolute URL such as http://127.0.0.1:7071.");
        }
        return new ProvisionCommand(api, parsed.GetRequiredString("certs"), FarmOptions.Sensors(parsed), FarmOptions.Pumps(parsed), FarmOptions.Farm(parsed));
    }

    public async Task<int> ExecuteAsync(TextWriter output, CancellationToken cancellationToken)
    {
        var key = Environment.GetEnvironmentVariable(KeyVariable);
        if (string.IsNullOrEmpty(key))
        {
            throw new CommandLineException($"Set {KeyVariable} to the function app's key.");
        }
        using var http = new HttpClient { BaseAddress = Api, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Add("x-functions-key", key);
        await new FarmProvisioner(http, output).ProvisionAsync(CertificatesDirectory, Farm, Sensors, Pumps, cancellationToken);
        return 0;
    }
}
