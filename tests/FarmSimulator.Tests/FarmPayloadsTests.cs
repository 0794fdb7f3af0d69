using System.Text;
using FarmSimulator.Simulation;

namespace FarmSimulator.Tests;

public sealed class FarmPayloadsTests
{
    static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1764339600);

    [Fact]
    public void SensorData_has_the_documented_shape()
    {
        var json = Encoding.UTF8.GetString(FarmPayloads.SensorData(new SoilReading(21.4, 41.7, 6.6, 3.71, Now)));

        Assert.Equal("""{"temperature":21.4,"humidity":41.7,"ph":6.6,"battery":3.71,"timestamp":1764339600}""", json);
    }

    [Fact]
    public void PumpState_on_has_until_and_off_has_null()
    {
        var on = Encoding.UTF8.GetString(FarmPayloads.PumpState(Now.AddSeconds(600), Now));
        var off = Encoding.UTF8.GetString(FarmPayloads.PumpState(null, Now));

        Assert.Equal("""{"state":"ON","until":1764340200,"timestamp":1764339600}""", on);
        Assert.Equal("""{"state":"OFF","until":null,"timestamp":1764339600}""", off);
    }
}
