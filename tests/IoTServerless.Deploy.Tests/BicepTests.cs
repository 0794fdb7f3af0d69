namespace IoTServerless.Deploy.Tests;

/// <summary>
/// infra/ compiles with the pinned Bicep CLI and passes its linter (infra/bicepconfig.json raises every
/// rule to an error) with no diagnostic at all: no error, no warning, no info.
/// </summary>
public sealed class BicepTests(CompiledTemplate template) : IClassFixture<CompiledTemplate>
{
    [SkippableFact]
    public void Main_bicep_builds_without_diagnostics()
    {
        Skip.IfNot(BicepCli.Available, "The pinned Bicep CLI package is linux-x64.");
        var result = template.BuildResult;
        Assert.True(result.ExitCode == 0, "bicep build main.bicep failed:\n" + result.Output);
        Assert.True(result.Output.Length == 0, "bicep build main.bicep reported:\n" + result.Output);
    }

    [SkippableFact]
    public void Every_bicep_file_passes_the_linter()
    {
        Skip.IfNot(BicepCli.Available, "The pinned Bicep CLI package is linux-x64.");
        var files = Directory.GetFiles(CompiledTemplate.Infra, "*.bicep", SearchOption.AllDirectories);
        Assert.Contains(files, f => f.EndsWith("main.bicep", StringComparison.Ordinal));
        Assert.True(files.Length > 5, "infra/app/*.bicep modules are missing");

        var result = BicepCli.Invoke(CompiledTemplate.Infra, "lint", "--pattern", "**/*.bicep");
        Assert.True(result.ExitCode == 0 && result.Output.Length == 0, "bicep lint reported:\n" + result.Output);
    }

    [Fact]
    public void The_linter_configuration_raises_rules_to_errors()
    {
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(CompiledTemplate.Infra, "bicepconfig.json")))!;
        var rules = config["analyzers"]!["core"]!["rules"]!.AsObject();
        Assert.NotEmpty(rules);
        Assert.All(rules, r => Assert.Equal("error", r.Value!["level"]!.GetValue<string>()));
    }

    [SkippableFact]
    public void Outputs_are_upper_snake_case_and_carry_no_secret()
    {
        Skip.IfNot(BicepCli.Available, "The pinned Bicep CLI package is linux-x64.");
        var outputs = template.Template["outputs"]!.AsObject();
        Assert.Contains("AZURE_CONTAINER_REGISTRY_ENDPOINT", outputs.Select(o => o.Key));
        Assert.All(outputs, o =>
        {
            Assert.Matches("^[A-Z][A-Z0-9_]*$", o.Key);
            Assert.DoesNotContain("secure", o.Value!["type"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotMatch("(?i)key|secret|password|connectionstring", o.Key.Replace("KEY_VAULT", "", StringComparison.Ordinal));
        });
    }

    [SkippableFact]
    public void Role_assignments_are_named_from_scope_principal_and_role()
    {
        Skip.IfNot(BicepCli.Available, "The pinned Bicep CLI package is linux-x64.");
        var assignments = template.Resources("Microsoft.Authorization/roleAssignments").ToList();
        Assert.NotEmpty(assignments);
        Assert.All(assignments, a =>
        {
            var name = a["name"]!.GetValue<string>();
            Assert.Matches(@"^\[guid\(.+, .+, .+\)\]$", name);
        });
    }
}
