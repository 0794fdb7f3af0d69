using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using IoTServerless.Testing;

namespace IoTServerless.Deploy.Tests;

/// <summary>Runs a process to completion and captures its output.</summary>
public static class Run
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr)
    {
        public string Output => (StdOut + StdErr).Trim();
    }

    public static Result Process(string fileName, string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        using var process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not finish in 5 minutes");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }
}

/// <summary>
/// The pinned Bicep CLI, restored by NuGet (PackageDownload of Azure.Bicep.CommandLine.linux-x64 in the
/// project file): a self-contained binary, no network needed to build or lint.
/// </summary>
static class BicepCli
{
    static readonly string? PackageRoot = Metadata("NuGetPackageRoot");
    static readonly string? Version = Metadata("BicepCliVersion");

    static string? Metadata(string key) => typeof(BicepCli).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value;

    public static bool Available => OperatingSystem.IsLinux() && RuntimeInformation.OSArchitecture == Architecture.X64;

    public static string Path
    {
        get
        {
            var path = System.IO.Path.Combine(PackageRoot ?? throw new InvalidOperationException("NuGetPackageRoot unknown"),
                "azure.bicep.commandline.linux-x64", Version!, "tools", "bicep");
            if (!File.Exists(path))
            {
                throw new FileNotFoundException("The Bicep CLI package is not restored (dotnet restore tests/IoTServerless.Deploy.Tests)", path);
            }
            // NuGet does not keep the executable bit.
            if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & UnixFileMode.UserExecute) == 0)
            {
                File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.UserExecute);
            }
            return path;
        }
    }

    public static Run.Result Invoke(string workingDirectory, params string[] arguments)
        => Run.Process(Path, workingDirectory, new Dictionary<string, string>
        {
            ["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] = "1",
            ["BICEP_TRACING_ENABLED"] = "false",
        }, arguments);
}

/// <summary>infra/main.bicep compiled once per test run (ARM JSON is simpler to read than Bicep).</summary>
public sealed class CompiledTemplate
{
    public static string Infra => System.IO.Path.Combine(RepoPaths.Root, "infra");

    readonly Lazy<(Run.Result Result, JsonNode? Template)> compiled = new(() =>
    {
        var output = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"iotserverless-main-{Guid.NewGuid():N}.json");
        try
        {
            var result = BicepCli.Invoke(Infra, "build", "main.bicep", "--outfile", output);
            return (result, result.ExitCode == 0 ? JsonNode.Parse(File.ReadAllText(output)) : null);
        }
        finally
        {
            File.Delete(output);
        }
    });

    public Run.Result BuildResult => compiled.Value.Result;

    public JsonNode Template => compiled.Value.Template ?? throw new InvalidOperationException("bicep build failed:\n" + BuildResult.Output);

    /// <summary>
    /// The value of a literal or of a simple expression over the enclosing template's variables
    /// (<c>[variables('x')]</c>, <c>[string(variables('x'))]</c>, <c>[format('{0}/y', variables('x'))]</c>); other expressions as written.
    /// </summary>
    public static string Evaluate(JsonNode value, JsonObject resource)
    {
        var text = value.ToString();
        var template = resource.Parent?.Parent as JsonObject;
        string Variable(string name) => template?["variables"]?[name]?.ToString() ?? throw new InvalidOperationException($"variable {name} not found");
        var match = System.Text.RegularExpressions.Regex.Match(text, @"^\[(?:string\()?variables\('(\w+)'\)\)?\]$");
        if (match.Success)
        {
            return Variable(match.Groups[1].Value);
        }
        match = System.Text.RegularExpressions.Regex.Match(text, @"^\[format\('([^']*)', variables\('(\w+)'\)\)\]$");
        return match.Success ? match.Groups[1].Value.Replace("{0}", Variable(match.Groups[2].Value), StringComparison.Ordinal) : text;
    }

    /// <summary>Every resource of <paramref name="type"/>, in main.json and in its nested (module) templates.</summary>
    public IEnumerable<JsonObject> Resources(string type)
    {
        var pending = new Stack<JsonNode?>([Template]);
        while (pending.Count > 0)
        {
            switch (pending.Pop())
            {
                case JsonObject o:
                    if (o["type"] is JsonValue t && t.TryGetValue<string>(out var s) && string.Equals(s, type, StringComparison.OrdinalIgnoreCase) && o["properties"] is not null)
                    {
                        yield return o;
                    }
                    foreach (var (_, child) in o)
                    {
                        pending.Push(child);
                    }
                    break;
                case JsonArray a:
                    foreach (var child in a)
                    {
                        pending.Push(child);
                    }
                    break;
            }
        }
    }
}
