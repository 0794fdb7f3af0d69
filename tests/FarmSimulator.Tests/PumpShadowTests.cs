using System.Text.Json.Nodes;
using FarmSimulator.Simulation;

namespace FarmSimulator.Tests;

public sealed class PumpShadowTests
{
    static readonly DateTimeOffset Until = DateTimeOffset.FromUnixTimeSeconds(1_764_340_200);

    static JsonObject Json(string json) => JsonNode.Parse(json)!.AsObject();

    [Fact]
    public void Reported_running_pump_is_ON_with_onUntil_in_epoch_seconds()
        => Assert.Equal("""{"pump":"ON","onUntil":1764340200}""", PumpShadow.Reported(Until).ToJsonString());

    [Fact]
    public void Reported_idle_pump_is_OFF_and_removes_onUntil()
        => Assert.Equal("""{"pump":"OFF","onUntil":null}""", PumpShadow.Reported(null).ToJsonString());

    [Fact]
    public void Update_reports_the_state_and_withdraws_the_desired_request()
        => Assert.Equal(
            """{"desired":{"pump":null,"runSeconds":null},"reported":{"pump":"ON","onUntil":1764340200}}""",
            PumpShadow.Update(Until).ToJsonString());

    [Theory]
    [InlineData("""{"pump":"ON","runSeconds":300}""", 300)]
    [InlineData("""{"pump":"on","runSeconds":1.5}""", 1.5)]
    [InlineData("""{"pump":"ON"}""", 600)]
    [InlineData("""{"pump":"ON","runSeconds":null}""", 600)]
    [InlineData("""{"pump":"ON","runSeconds":99999}""", 3600)]
    [InlineData("""{"pump":"ON","runSeconds":300,"colour":"red"}""", 300)]
    public void ReadRequest_on_is_a_run_of_runSeconds(string section, double seconds)
    {
        Assert.Equal(PumpShadowRequestKind.Command, PumpShadow.ReadRequest(Json(section), out var command));

        Assert.Equal(new PumpCommand(PumpCommandKind.On, TimeSpan.FromSeconds(seconds)), command);
    }

    [Theory]
    [InlineData("""{"pump":"OFF"}""")]
    [InlineData("""{"pump":"off","runSeconds":300}""")]
    public void ReadRequest_off_stops_the_pump(string section)
    {
        Assert.Equal(PumpShadowRequestKind.Command, PumpShadow.ReadRequest(Json(section), out var command));

        Assert.Equal(PumpCommandKind.Off, command.Kind);
    }

    [Theory]
    [InlineData("""{"pump":"SIDEWAYS"}""")]
    [InlineData("""{"pump":1}""")]
    [InlineData("""{"pump":true}""")]
    [InlineData("""{"pump":{"state":"ON"}}""")]
    [InlineData("""{"pump":"ON","runSeconds":0}""")]
    [InlineData("""{"pump":"ON","runSeconds":-5}""")]
    [InlineData("""{"pump":"ON","runSeconds":"300"}""")]
    [InlineData("""{"runSeconds":300}""")]
    public void ReadRequest_malformed_request_is_invalid(string section)
        => Assert.Equal(PumpShadowRequestKind.Invalid, PumpShadow.ReadRequest(Json(section), out _));

    [Theory]
    [InlineData(null)]
    [InlineData("{}")]
    [InlineData("""{"colour":"red"}""")]
    public void ReadRequest_section_without_pump_keys_is_none(string? section)
        => Assert.Equal(PumpShadowRequestKind.None, PumpShadow.ReadRequest(section is null ? null : Json(section), out _));
}
