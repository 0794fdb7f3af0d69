using System.Reflection;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;
using IoTServerless.Broker;
using IoTServerless.Testing;

namespace IoTServerless.Deploy.Tests;

/// <summary>
/// Both services publish: the function app with host.json in its package (what azd zips for Flex
/// Consumption), the broker by running the build stage of its Dockerfile on a copy of exactly what the
/// Dockerfile copies (so a file the image build needs but does not copy fails here, without Docker).
/// </summary>
public sealed partial class PublishTests
{
    static readonly string Configuration = typeof(PublishTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";

    static readonly Dictionary<string, string> DotnetEnvironment = new()
    {
        ["MSBUILDDISABLENODEREUSE"] = "1",
        ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        ["DOTNET_NOLOGO"] = "1",
    };

    static string Dockerfile => Path.Combine(RepoPaths.Root, "broker", "IoTServerless.Broker", "Dockerfile");

    sealed record Instruction(string Stage, string Keyword, string Arguments);

    /// <summary>The Dockerfile's instructions, continuation lines joined, each tagged with its stage.</summary>
    static List<Instruction> Instructions()
    {
        var text = Regex.Replace(File.ReadAllText(Dockerfile), @"\\\r?\n", " ");
        var stage = "";
        var result = new List<Instruction>();
        foreach (var line in text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')))
        {
            var parts = line.Split(' ', 2, StringSplitOptions.TrimEntries);
            var keyword = parts[0].ToUpperInvariant();
            var arguments = parts.Length > 1 ? parts[1] : "";
            if (keyword == "FROM")
            {
                stage = Regex.Match(arguments, @"\bAS\s+(\S+)", RegexOptions.IgnoreCase).Groups[1].Value;
            }
            result.Add(new Instruction(stage, keyword, arguments));
        }
        return result;
    }

    [Fact]
    public void Dockerfile_is_multi_stage_non_root_and_exposes_the_broker_ports()
    {
        var instructions = Instructions();
        var from = instructions.Where(i => i.Keyword == "FROM").Select(i => i.Arguments).ToList();
        Assert.Equal(2, from.Count);
        Assert.StartsWith("mcr.microsoft.com/dotnet/sdk:10.0 ", from[0], StringComparison.Ordinal);
        Assert.StartsWith("mcr.microsoft.com/dotnet/aspnet:10.0 ", from[1], StringComparison.Ordinal);
        var runtime = instructions.Where(i => i.Stage == instructions.Last().Stage).ToList();
        Assert.Contains(runtime, i => i.Keyword == "USER" && i.Arguments == "$APP_UID");
        Assert.Contains(runtime, i => i.Keyword == "COPY" && i.Arguments.StartsWith("--from=build ", StringComparison.Ordinal));

        var defaults = new BrokerOptions();
        var exposed = runtime.Where(i => i.Keyword == "EXPOSE").SelectMany(i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Select(int.Parse).ToHashSet();
        Assert.Equal(new[] { defaults.Mqtt.Port, defaults.WebSockets.Port, defaults.WebSockets.Forwarded.Port, defaults.Api.Port }.Order(), exposed.Order());
        // The image listens where the Container App's ingress and probes expect it (checked against the Bicep in WiringTests).
        var env = string.Join(' ', runtime.Where(i => i.Keyword == "ENV").Select(i => i.Arguments));
        Assert.Contains("Broker__Api__BindAddress=0.0.0.0", env, StringComparison.Ordinal);
    }

    [Fact]
    public void Dockerfile_copies_paths_that_exist_and_its_build_stage_publishes_the_broker()
    {
        var instructions = Instructions();
        var work = Directory.CreateTempSubdirectory("iotserverless-docker-");
        try
        {
            var workdir = "/";
            string Map(string containerPath) => Path.Combine(work.FullName, containerPath.TrimStart('/'));
            foreach (var i in instructions.Where(i => i.Stage == "build"))
            {
                switch (i.Keyword)
                {
                    case "WORKDIR":
                        workdir = i.Arguments.StartsWith('/') ? i.Arguments : Path.Combine(workdir, i.Arguments);
                        Directory.CreateDirectory(Map(workdir));
                        break;
                    case "COPY":
                        var parts = i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                        var destination = parts[^1];
                        var target = destination.StartsWith('/') ? Map(destination) : Path.Combine(Map(workdir), destination);
                        foreach (var source in parts[..^1])
                        {
                            var path = Path.Combine(RepoPaths.Root, source);
                            Assert.True(File.Exists(path) || Directory.Exists(path), $"The Dockerfile copies {source}, which does not exist (the build context is the repository root)");
                            CopyForDocker(path, destination.EndsWith('/') && File.Exists(path) ? Path.Combine(target, Path.GetFileName(path)) : target);
                        }
                        break;
                    case "RUN":
                        var words = i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                            .Select(w => w.StartsWith('/') ? Map(w) : w).ToArray();
                        Assert.Equal("dotnet", words[0]);
                        var result = Run.Process("dotnet", Map(workdir), DotnetEnvironment, words[1..]);
                        Assert.True(result.ExitCode == 0, $"RUN {i.Arguments} failed:\n{result.Output}");
                        break;
                }
            }
            Assert.True(File.Exists(Map("/app/IoTServerless.Broker.dll")), "the build stage did not publish the broker to /app");
            Assert.True(File.Exists(Map("/app/IoTServerless.Core.dll")));
            // Published ReadyToRun: the assemblies carry precompiled code (a ManagedNativeHeader).
            foreach (var assembly in new[] { "IoTServerless.Broker.dll", "IoTServerless.Core.dll", "MQTTnet.Server.dll" })
            {
                using var pe = new PEReader(File.OpenRead(Map("/app/" + assembly)));
                Assert.True(pe.PEHeaders.CorHeader!.ManagedNativeHeaderDirectory.Size > 0, $"{assembly} is not ReadyToRun");
            }
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>Copies a file or folder as COPY does, leaving out what .dockerignore leaves out (build output).</summary>
    static void CopyForDocker(string source, string target)
    {
        if (File.Exists(source))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target, overwrite: true);
            return;
        }
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(source, file);
            if (relative.Split(Path.DirectorySeparatorChar).Any(segment => segment is "bin" or "obj"))
            {
                continue;
            }
            var destination = Path.Combine(target, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination, overwrite: true);
        }
    }

    [Fact]
    public void Dockerignore_keeps_build_output_and_local_state_out()
    {
        var ignore = File.ReadAllLines(Path.Combine(RepoPaths.Root, ".dockerignore"));
        Assert.Contains("**/bin/", ignore);
        Assert.Contains("**/obj/", ignore);
        Assert.Contains(".local/", ignore);
    }

    [Fact]
    public void Function_app_publishes_with_host_json()
    {
        var output = Directory.CreateTempSubdirectory("iotserverless-functions-publish-");
        try
        {
            // The solution is built already (scripts/test.sh): publish packages that build.
            var project = Path.Combine(RepoPaths.Root, "functions", "IoTServerless.Functions", "IoTServerless.Functions.csproj");
            var result = Run.Process("dotnet", RepoPaths.Root, DotnetEnvironment, "publish", project, "-c", Configuration, "--no-build", "-o", output.FullName);
            Assert.True(result.ExitCode == 0, "dotnet publish of the function app failed:\n" + result.Output);
            foreach (var file in new[] { "host.json", "IoTServerless.Functions.dll", "functions.metadata", "worker.config.json" })
            {
                Assert.True(File.Exists(Path.Combine(output.FullName, file)), $"{file} is not in the function app's publish output");
            }
            var host = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(output.FullName, "host.json")))!;
            Assert.Equal("2.0", host["version"]!.GetValue<string>());
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }
}
