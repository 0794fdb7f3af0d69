using FarmSimulator.Simulation;

namespace FarmSimulator.Tests;

public sealed class FarmNamingTests
{
    [Theory]
    [InlineData(1, 5, 1)]
    [InlineData(5, 5, 5)]
    [InlineData(6, 5, 1)]
    [InlineData(20, 5, 5)]
    [InlineData(7, 3, 1)]
    [InlineData(3, 1, 1)]
    public void PumpIndexForSensor_round_robin(int sensor, int pumps, int expected)
    {
        Assert.Equal(expected, FarmNaming.PumpIndexForSensor(sensor, pumps));
    }

    [Fact]
    public void PumpIndexForSensor_without_pumps_is_null()
    {
        Assert.Null(FarmNaming.PumpIndexForSensor(4, 0));
    }

    [Fact]
    public void SensorIndexesForPump_default_farm_gives_each_pump_four_sensors()
    {
        Assert.Equal([1, 6, 11, 16], FarmNaming.SensorIndexesForPump(1, 20, 5));
        Assert.Equal([5, 10, 15, 20], FarmNaming.SensorIndexesForPump(5, 20, 5));
    }

    [Fact]
    public void Names_and_topics_follow_the_farm_convention()
    {
        Assert.Equal(["soil-001", "soil-002", "soil-003"], FarmNaming.SensorNames(3));
        Assert.Equal("pump-012", FarmNaming.PumpName(12));
        Assert.Equal("soil-1000", FarmNaming.SensorName(1000));
        Assert.Equal("farmA/sensor/soil-001/data", FarmNaming.SensorDataTopic("farmA", "soil-001"));
        Assert.Equal("farmA/pump/pump-002/cmd", FarmNaming.PumpCommandTopic("farmA", "pump-002"));
        Assert.Equal("farmA/pump/pump-002/state", FarmNaming.PumpStateTopic("farmA", "pump-002"));
    }
}
