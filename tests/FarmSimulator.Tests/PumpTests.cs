using FarmSimulator.Simulation;

namespace FarmSimulator.Tests;

public sealed class PumpTests
{
    static readonly DateTimeOffset Now = new(2025, 11, 28, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Apply_on_runs_until_the_duration_ends()
    {
        var pump = new Pump("pump-001");

        Assert.True(pump.Apply(new PumpCommand(PumpCommandKind.On, TimeSpan.FromSeconds(60)), Now));

        Assert.True(pump.IsOn(Now.AddSeconds(59)));
        Assert.Equal(Now.AddSeconds(60), pump.OnUntil(Now));
        Assert.False(pump.IsOn(Now.AddSeconds(60)));
        Assert.Null(pump.OnUntil(Now.AddSeconds(61)));
    }

    [Fact]
    public void Apply_off_stops_a_running_pump_and_is_no_change_when_off()
    {
        var pump = new Pump("pump-001");
        pump.Apply(new PumpCommand(PumpCommandKind.On, TimeSpan.FromMinutes(10)), Now);

        Assert.True(pump.Apply(new PumpCommand(PumpCommandKind.Off, TimeSpan.Zero), Now.AddSeconds(5)));
        Assert.False(pump.IsOn(Now.AddSeconds(6)));
        Assert.False(pump.Apply(new PumpCommand(PumpCommandKind.Off, TimeSpan.Zero), Now.AddSeconds(7)));
    }

    [Fact]
    public void Expire_reports_the_end_of_a_run_once()
    {
        var pump = new Pump("pump-001");
        pump.Apply(new PumpCommand(PumpCommandKind.On, TimeSpan.FromSeconds(30)), Now);

        Assert.False(pump.Expire(Now.AddSeconds(29)));
        Assert.True(pump.Expire(Now.AddSeconds(30)));
        Assert.False(pump.Expire(Now.AddSeconds(31)));
        Assert.False(pump.IsOn(Now.AddSeconds(31)));
    }
}
