using FarmSimulator.Simulation;

namespace FarmSimulator.Tests;

public sealed class SoilModelTests
{
    static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    // 2025-11-28 15:00 UTC: the warm part of the simulated day.
    static readonly DateTimeOffset Afternoon = new(2025, 11, 28, 15, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Advance_without_water_humidity_falls_steadily()
    {
        var model = new SoilModel(seed: 3, Afternoon, initialHumidity: 55);
        var readings = Run(model, Afternoon, steps: 60, watering: false);

        var drops = readings.Zip(readings.Skip(1), (a, b) => a.Humidity - b.Humidity).ToList();
        Assert.True(drops.Count(d => d > 0) >= drops.Count * 0.9, "humidity should fall at almost every reading");
        Assert.InRange(drops.Average(), 0.3, 1.2);
        Assert.True(readings[^1].Humidity < 45, $"after 5 minutes humidity is {readings[^1].Humidity}");
    }

    [Fact]
    public void Advance_default_start_crosses_35_percent_within_five_minutes_when_warm()
    {
        for (var seed = 1; seed <= 20; seed++)
        {
            var model = new SoilModel(seed, Afternoon);
            Assert.InRange(model.Humidity, 45, 60);
            var readings = Run(model, Afternoon, steps: 60, watering: false);

            Assert.Contains(readings, r => r.Humidity < 35);
        }
    }

    [Fact]
    public void Advance_faster_drying_when_warm()
    {
        var warm = new SoilModel(seed: 5, Afternoon, initialHumidity: 50);
        var nightStart = Afternoon.AddHours(12); // 03:00 UTC, the cool end of the sine
        var cool = new SoilModel(seed: 5, nightStart, initialHumidity: 50);

        var warmEnd = Run(warm, Afternoon, steps: 24, watering: false)[^1].Humidity;
        var coolEnd = Run(cool, nightStart, steps: 24, watering: false)[^1].Humidity;

        Assert.True(warmEnd < coolEnd - 1, $"warm soil {warmEnd} should be drier than cool soil {coolEnd}");
    }

    [Fact]
    public void Advance_while_watered_humidity_rises()
    {
        var model = new SoilModel(seed: 7, Afternoon, initialHumidity: 30);
        var readings = Run(model, Afternoon, steps: 24, watering: true);

        Assert.True(readings[^1].Humidity > 50, $"two minutes of watering reached only {readings[^1].Humidity}");
        Assert.All(readings.Zip(readings.Skip(1)), pair => Assert.True(pair.Second.Humidity > pair.First.Humidity));
    }

    [Fact]
    public void Advance_humidity_is_clamped_to_0_and_100()
    {
        var flooded = new SoilModel(seed: 1, Afternoon, initialHumidity: 95);
        var wet = Run(flooded, Afternoon, steps: 720, watering: true);
        var parched = new SoilModel(seed: 1, Afternoon, initialHumidity: 2);
        var dry = Run(parched, Afternoon, steps: 2000, watering: false, step: TimeSpan.FromMinutes(5));

        Assert.All(wet, r => Assert.InRange(r.Humidity, 0, 100));
        Assert.Equal(100, wet[^1].Humidity);
        Assert.Equal(100, flooded.Humidity);
        Assert.All(dry, r => Assert.InRange(r.Humidity, 0, 100));
        Assert.True(dry[^1].Humidity < 1);
        Assert.Equal(100, new SoilModel(seed: 1, Afternoon, initialHumidity: 250).Humidity);
    }

    [Fact]
    public void Advance_same_seed_same_readings_other_seed_differs()
    {
        var a = Run(new SoilModel(seed: 42, Afternoon), Afternoon, steps: 50, watering: false);
        var b = Run(new SoilModel(seed: 42, Afternoon), Afternoon, steps: 50, watering: false);
        var c = Run(new SoilModel(seed: 43, Afternoon), Afternoon, steps: 50, watering: false);

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Advance_ph_stays_in_range_and_battery_declines()
    {
        var model = new SoilModel(seed: 9, Afternoon);
        var firstBattery = model.Battery;
        var readings = Run(model, Afternoon, steps: 5000, watering: false, step: TimeSpan.FromMinutes(1));

        Assert.All(readings, r => Assert.InRange(r.Ph, 5.5, 7.5));
        Assert.All(readings, r => Assert.InRange(r.Battery, 3.0, 4.2));
        Assert.True(model.Battery < firstBattery - 0.05, $"battery went from {firstBattery} to {model.Battery}");
        Assert.True(readings.Select(r => r.Ph).Distinct().Count() > 1, "pH should drift");
    }

    [Fact]
    public void Advance_temperature_follows_the_day()
    {
        var model = new SoilModel(seed: 11, Afternoon.AddHours(-12));
        var night = model.Advance(Afternoon.AddHours(-12), watering: false);
        var afternoon = model.Advance(Afternoon, watering: false);

        Assert.True(afternoon.Temperature > night.Temperature + 4, $"15:00 {afternoon.Temperature} °C vs 03:00 {night.Temperature} °C");
        Assert.InRange(afternoon.Temperature, 15, 32);
        Assert.Equal(Afternoon, afternoon.Timestamp);
    }

    static List<SoilReading> Run(SoilModel model, DateTimeOffset start, int steps, bool watering, TimeSpan? step = null)
    {
        var readings = new List<SoilReading>(steps);
        for (var i = 1; i <= steps; i++)
        {
            readings.Add(model.Advance(start + ((step ?? Interval) * i), watering));
        }
        return readings;
    }
}
