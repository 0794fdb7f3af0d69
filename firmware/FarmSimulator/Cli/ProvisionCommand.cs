using FarmSimulator.Provisioning;

namespace FarmSimulator.Cli;

/// <summary>
/// <c>provision --api URL --certs DIR [--sensors 20] [--pumps 5] [--farm farmA] [--rules true|false]</c>:
/// registers the farm through the platform's HTTP API and installs the seed rules of the irrigation loop
/// (unless <c>--rules false</c>), whose function action calls <c>{api}/api/irrigation</c>. The function key is read from the environment variable
/// <c>FUNCTION_KEY</c>, never from the command line (it would show in process listings).
/// </summary>
public sealed record ProvisionCommand(Uri Api, string CertificatesDirectory, int Sensors, int Pumps, string Farm, bool Rules = true)
{
    public const string KeyVariable = "FUNCTION_KEY";
    public static readonly string[] Options = ["api", "certs", "sensors", "pumps", "farm", "rules"];

    public static ProvisionCommand Parse(IReadOnlyList<string> args)
    {
        var parsed = CommandLineArguments.Parse(args, Options);
        if (!Uri.TryCreate(parsed.GetRequiredString("api"), UriKind.Absolute, out var api))
        {
            throw new CommandLineException("--api must be an absolute URL such as http://127.0.0.1:7071.");
        }
        var rulesText = parsed.GetString("rules", "true");
        if (!bool.TryParse(rulesText, out var rules))
        {
            throw new CommandLineException("--rules must be true or false.");
        }
        return new ProvisionCommand(api, parsed.GetRequiredString("certs"), FarmOptions.Sensors(parsed), FarmOptions.Pumps(parsed), FarmOptions.Farm(parsed), rules);
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
        var irrigationController = Rules ? new Uri(Api, "api/irrigation") : null;
        await new FarmProvisioner(http, output).ProvisionAsync(CertificatesDirectory, Farm, Sensors, Pumps, irrigationController, cancellationToken);
        return 0;
    }
}
