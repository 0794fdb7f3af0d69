using System.Text;
using FarmSimulator.Simulation;

namespace FarmSimulator.Tests;

public sealed class PumpCommandTests
{
    [Theory]
    [InlineData("""{"command":"ON","duration":120}""", 120)]
    [InlineData("""{"command":"ON"}""", 600)]
    [InlineData("""{"command":"ON","duration":null}""", 600)]
    [InlineData("""{"command":"on","duration":90.5,"requestId":"x"}""", 90.5)]
    [InlineData("""{"command":"ON","duration":86400}""", 3600)]
    public void TryParse_on_command_gives_duration(string json, double expectedSeconds)
    {
        Assert.True(PumpCommand.TryParse(Encoding.UTF8.GetBytes(json), out var command));

        Assert.Equal(PumpCommandKind.On, command.Kind);
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), command.Duration);
    }

    [Theory]
    [InlineData("""{"command":"OFF"}""")]
    [InlineData("""{"command":"off","duration":"ignored"}""")]
    public void TryParse_off_command_is_off(string json)
    {
        Assert.True(PumpCommand.TryParse(Encoding.UTF8.GetBytes(json), out var command));

        Assert.Equal(PumpCommandKind.Off, command.Kind);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("""{"command":"ON" """)]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("\"ON\"")]
    [InlineData("{}")]
    [InlineData("""{"command":1}""")]
    [InlineData("""{"command":true}""")]
    [InlineData("""{"command":"START"}""")]
    [InlineData("""{"command":"ON","duration":"600"}""")]
    [InlineData("""{"command":"ON","duration":true}""")]
    [InlineData("""{"command":"ON","duration":0}""")]
    [InlineData("""{"command":"ON","duration":-5}""")]
    [InlineData("""{"command":"ON","duration":{"s":1}}""")]
    [InlineData("""{"command":"ON"} trailing""")]
    public void TryParse_malformed_is_rejected(string json)
    {
        Assert.False(PumpCommand.TryParse(Encoding.UTF8.GetBytes(json), out _));
    }

    [Fact]
    public void TryParse_invalid_utf8_is_rejected()
    {
        Assert.False(PumpCommand.TryParse(new byte[] { 0x7B, 0xFF, 0xFE, 0x7D }, out _));
    }
}
