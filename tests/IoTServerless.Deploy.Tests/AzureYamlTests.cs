using System.Text.RegularExpressions;
using IoTServerless.Testing;

namespace IoTServerless.Deploy.Tests;

/// <summary>azure.yaml names projects, hosts, a Dockerfile and hooks that exist and fit together.</summary>
public sealed partial class AzureYamlTests
{
    sealed record Service(string Name, Dictionary<string, string> Values);

    /// <summary>The services of azure.yaml: a small reader for its two-level shape (no YAML library needed).</summary>
    static List<Service> Services(out List<string> hookScripts)
    {
        var lines = File.ReadAllLines(Path.Combine(RepoPaths.Root, "azure.yaml"));
        var services = new List<Service>();
        hookScripts = [];
        string? section = null;
        Service? current = null;
        var nested = "";
        foreach (var raw in lines)
        {
            var line = raw.Split(" #")[0].TrimEnd();
            if (line.Length == 0 || line.TrimStart().StartsWith('#'))
            {
                continue;
            }
            var indent = line.Length - line.TrimStart().Length;
            var match = KeyValue().Match(line.Trim());
            if (!match.Success)
            {
                continue;
            }
            var (key, value) = (match.Groups[1].Value, match.Groups[2].Value.Trim().Trim('\'', '"'));
            if (indent == 0)
            {
                section = key;
                current = null;
            }
            else if (section == "services" && indent == 2)
            {
                current = new Service(key, new Dictionary<string, string>());
                services.Add(current);
                nested = "";
            }
            else if (section == "services" && current is not null && indent == 4)
            {
                nested = value.Length == 0 ? key + "." : "";
                current.Values[key] = value;
            }
            else if (section == "services" && current is not null && indent == 6)
            {
                current.Values[nested + key] = value;
            }
            else if (section == "hooks" && key == "run")
            {
                hookScripts.Add(value);
            }
        }
        return services;
    }

    [GeneratedRegex(@"^([A-Za-z0-9_.-]+):\s*(.*)$")]
    private static partial Regex KeyValue();

    [Fact]
    public void Services_name_existing_projects_with_matching_hosts()
    {
        var services = Services(out _);
        Assert.Equal(["broker", "functions"], services.Select(s => s.Name).Order());

        var functions = services.Single(s => s.Name == "functions");
        Assert.Equal("function", functions.Values["host"]);
        Assert.Equal("dotnet", functions.Values["language"]);
        var functionProject = Path.GetFullPath(Path.Combine(RepoPaths.Root, functions.Values["project"]));
        Assert.Equal(Path.Combine(RepoPaths.Root, "functions", "IoTServerless.Functions"), functionProject.TrimEnd('/'));
        var csproj = File.ReadAllText(Path.Combine(functionProject, "IoTServerless.Functions.csproj"));
        Assert.Contains("<AzureFunctionsVersion>v4</AzureFunctionsVersion>", csproj, StringComparison.Ordinal);
        Assert.Contains("Microsoft.Azure.Functions.Worker.Sdk", csproj, StringComparison.Ordinal);

        var broker = services.Single(s => s.Name == "broker");
        Assert.Equal("containerapp", broker.Values["host"]);
        var brokerProject = Path.GetFullPath(Path.Combine(RepoPaths.Root, broker.Values["project"]));
        Assert.Equal(Path.Combine(RepoPaths.Root, "broker", "IoTServerless.Broker"), brokerProject.TrimEnd('/'));
        Assert.StartsWith("<Project Sdk=\"Microsoft.NET.Sdk.Web\">", File.ReadAllText(Path.Combine(brokerProject, "IoTServerless.Broker.csproj")), StringComparison.Ordinal);
        // docker.path and docker.context are relative to the project: the Dockerfile next to it, the repository root.
        Assert.Equal(Path.Combine(brokerProject, "Dockerfile"), Path.GetFullPath(Path.Combine(brokerProject, broker.Values["docker.path"])));
        Assert.True(File.Exists(Path.Combine(brokerProject, broker.Values["docker.path"])));
        Assert.Equal(RepoPaths.Root.TrimEnd('/'), Path.GetFullPath(Path.Combine(brokerProject, broker.Values["docker.context"])).TrimEnd('/'));
    }

    [Fact]
    public void Hooks_name_existing_scripts_for_both_shells()
    {
        Services(out var hooks);
        Assert.Contains("./infra/scripts/postdeploy.sh", hooks);
        Assert.Contains("./infra/scripts/postdeploy.ps1", hooks);
        Assert.All(hooks, h => Assert.True(File.Exists(Path.Combine(RepoPaths.Root, h)), h));
    }

    [SkippableFact]
    public void Shell_scripts_are_shellcheck_clean()
    {
        var shellcheck = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(d => Path.Combine(d, "shellcheck")).FirstOrDefault(File.Exists);
        Skip.If(shellcheck is null, "shellcheck is not installed (Debian: apt-get install shellcheck)");
        var scripts = Directory.GetFiles(Path.Combine(CompiledTemplate.Infra, "scripts"), "*.sh");
        Assert.NotEmpty(scripts);
        var result = Run.Process(shellcheck!, RepoPaths.Root, null, scripts);
        Assert.True(result.ExitCode == 0, result.Output);
    }

    [Fact]
    public void Infra_has_the_azd_template_shape()
    {
        foreach (var file in new[] { "main.bicep", "main.parameters.json", "abbreviations.json", "bicepconfig.json" })
        {
            Assert.True(File.Exists(Path.Combine(CompiledTemplate.Infra, file)), file);
        }
        var main = File.ReadAllText(Path.Combine(CompiledTemplate.Infra, "main.bicep"));
        Assert.Contains("targetScope = 'subscription'", main, StringComparison.Ordinal);
        Assert.Contains("'azd-env-name'", main, StringComparison.Ordinal);
        Assert.Contains("'azd-service-name': 'broker'", main, StringComparison.Ordinal);
        Assert.Contains("'azd-service-name': 'functions'", main, StringComparison.Ordinal);
        // Every parameter main.bicep declares without a default is supplied by main.parameters.json.
        var parameters = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(CompiledTemplate.Infra, "main.parameters.json")))!["parameters"]!.AsObject();
        foreach (Match m in Regex.Matches(main, @"^param (\w+) \w+\s*$", RegexOptions.Multiline))
        {
            Assert.True(parameters.ContainsKey(m.Groups[1].Value), $"main.parameters.json does not set {m.Groups[1].Value}");
        }
    }
}
