using FarmSimulator.Cli;

namespace FarmSimulator.Tests;

public sealed class CommandLineTests
{
    [Fact]
    public void RunCommand_Parse_defaults()
    {
        var command = RunCommand.Parse(["--certs", "/tmp/certs"]);

        Assert.Equal("127.0.0.1", command.Simulation.Host);
        Assert.Equal(8883, command.Simulation.Port);
        Assert.Equal("/tmp/certs", command.Simulation.CertificateDirectory);
        Assert.Equal(20, command.Simulation.Sensors);
        Assert.Equal(5, command.Simulation.Pumps);
        Assert.Equal("farmA", command.Simulation.Farm);
        Assert.Equal(TimeSpan.FromSeconds(5), command.Simulation.Interval);
        Assert.Equal(TimeSpan.Zero, command.Duration);
    }

    [Fact]
    public void RunCommand_Parse_all_options()
    {
        var command = RunCommand.Parse(["--host", "localhost", "--port", "18883", "--certs", "c", "--sensors", "100", "--pumps=10",
            "--farm", "farmB", "--interval", "0.5", "--duration", "60", "--seed", "7"]);

        Assert.Equal("localhost", command.Simulation.Host);
        Assert.Equal(18883, command.Simulation.Port);
        Assert.Equal(100, command.Simulation.Sensors);
        Assert.Equal(10, command.Simulation.Pumps);
        Assert.Equal("farmB", command.Simulation.Farm);
        Assert.Equal(TimeSpan.FromMilliseconds(500), command.Simulation.Interval);
        Assert.Equal(TimeSpan.FromMinutes(1), command.Duration);
        Assert.Equal(7, command.Simulation.Seed);
    }

    [Fact]
    public void ProvisionCommand_Parse_installsTheSeedRulesByDefault()
    {
        var command = ProvisionCommand.Parse(["--api", "http://127.0.0.1:7071", "--certs", "c"]);

        Assert.True(command.Rules);
        Assert.Equal("farmA", command.Farm);
    }

    [Fact]
    public void ProvisionCommand_Parse_rulesFalse_skipsTheRules()
        => Assert.False(ProvisionCommand.Parse(["--api", "http://127.0.0.1:7071", "--certs", "c", "--rules", "false"]).Rules);

    [Fact]
    public void ProvisionCommand_Parse_rulesNotABoolean_isRefused()
        => Assert.Throws<CommandLineException>(() => ProvisionCommand.Parse(["--api", "http://127.0.0.1:7071", "--certs", "c", "--rules", "maybe"]));

    [Theory]
    [InlineData("--certs", "c", "--bogus", "1")]
    [InlineData("--certs", "c", "--port")]
    [InlineData("--certs", "c", "--port", "70000")]
    [InlineData("--certs", "c", "--sensors", "-1")]
    [InlineData("--certs", "c", "--interval", "abc")]
    [InlineData("--certs", "c", "--farm", "a/b")]
    [InlineData("--certs", "c", "--farm", "$aws")]
    [InlineData("--certs", "c", "--certs", "d")]
    [InlineData("--port", "1")]
    [InlineData("stray")]
    public void RunCommand_Parse_bad_arguments_throw(params string[] args)
    {
        Assert.Throws<CommandLineException>(() => RunCommand.Parse(args));
    }

    [Fact]
    public async Task CommandDispatcher_unknown_command_exits_2_with_usage()
    {
        var error = new StringWriter();

        var code = await CommandDispatcher.RunAsync(["plant"], TextWriter.Null, error, CancellationToken.None);

        Assert.Equal(2, code);
        Assert.Contains("Unknown command 'plant'", error.ToString());
        Assert.Contains("usage:", error.ToString());
    }

    [Fact]
    public async Task CommandDispatcher_run_without_certificates_exits_1()
    {
        var error = new StringWriter();
        var missing = Path.Combine(Path.GetTempPath(), "no-such-farm-certs-" + Guid.NewGuid().ToString("N"));

        var code = await CommandDispatcher.RunAsync(["run", "--certs", missing, "--duration", "1"], TextWriter.Null, error, CancellationToken.None);

        Assert.Equal(1, code);
        Assert.Contains("ca.crt is missing", error.ToString());
    }
}
