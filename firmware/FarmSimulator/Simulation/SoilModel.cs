namespace FarmSimulator.Simulation;

/// <summary>
/// The soil under one sensor. Deterministic for a given seed and sequence of <see cref="Advance"/> calls.
/// <list type="bullet">
/// <item>Humidity (soil moisture, %) dries steadily: about 0.1–0.16 %/s at 50 % and 20 °C (0.5–0.8 % per
/// reading at a 5 s interval), proportionally to the moisture left and faster when warm; it rises by
/// 0.5–0.6 %/s while the sensor's pump runs (more than any drying, so a pump left on floods
/// the soil). Clamped to 0–100.</item>
/// <item>Temperature follows a daily sine (warmest at 15:00 UTC) around a per-sensor base, plus noise.</item>
/// <item>pH wanders slowly around a per-sensor mean, within 5.5–7.5.</item>
/// <item>The battery declines slowly (about 0.015 V an hour, down to 3.0 V).</item>
/// </list>
/// Not thread-safe: one caller advances it.
/// </summary>
public sealed class SoilModel
{
    const double SubStepSeconds = 5;
    const double MinPh = 5.5;
    const double MaxPh = 7.5;
    const double MinBattery = 3.0;

    readonly Random _random;
    readonly double _baseTemperature;
    readonly double _temperatureAmplitude;
    readonly double _dryingRate;
    readonly double _wateringRate;
    readonly double _phMean;
    readonly double _batteryDrain;
    readonly double _daySeconds;

    /// <param name="seed">Everything random about this sensor derives from it.</param>
    /// <param name="start">The model's clock at creation.</param>
    /// <param name="initialHumidity">Defaults to a seeded value in 45–60 %.</param>
    /// <param name="dayLength">Period of the temperature sine; a day by default.</param>
    public SoilModel(int seed, DateTimeOffset start, double? initialHumidity = null, TimeSpan? dayLength = null)
    {
        _random = new Random(seed);
        Humidity = Math.Clamp(initialHumidity ?? Between(45, 60), 0, 100);
        _baseTemperature = Between(18, 24);
        _temperatureAmplitude = Between(3, 6);
        _dryingRate = Between(0.10, 0.16);
        _wateringRate = Between(0.5, 0.6);
        _phMean = Between(6.0, 7.0);
        Ph = _phMean + Between(-0.2, 0.2);
        Battery = Between(3.7, 4.15);
        _batteryDrain = Between(3e-6, 5e-6); // V/s: weeks on a charge
        _daySeconds = (dayLength ?? TimeSpan.FromDays(1)).TotalSeconds;
        Time = start;
        Temperature = TemperatureAt(start);
    }

    /// <summary>Current soil moisture (%), unrounded.</summary>
    public double Humidity { get; private set; }

    /// <summary>Current soil temperature (°C), noise-free.</summary>
    public double Temperature { get; private set; }

    public double Ph { get; private set; }

    public double Battery { get; private set; }

    /// <summary>The model's clock: the time of the last <see cref="Advance"/>.</summary>
    public DateTimeOffset Time { get; private set; }

    /// <summary>
    /// Moves the model to <paramref name="now"/> (watered for the whole span when <paramref name="watering"/>)
    /// and returns the reading a sensor would report then, rounded like the device's firmware does.
    /// A <paramref name="now"/> before the model's clock is treated as no elapsed time.
    /// </summary>
    public SoilReading Advance(DateTimeOffset now, bool watering)
    {
        var remaining = Math.Max(0, (now - Time).TotalSeconds);
        var elapsed = remaining;
        // Small process noise per reading, far below the drift of a reading interval; spread over the
        // sub-steps so that clamping still holds the bounds exactly.
        var noiseScale = Math.Sqrt(Math.Min(elapsed, 60) / SubStepSeconds);
        var humidityNoise = elapsed > 0 ? Gaussian() * 0.05 * noiseScale : 0;
        var t = Time;
        while (remaining > 0)
        {
            var step = Math.Min(SubStepSeconds, remaining);
            t = t.AddSeconds(step);
            var temperature = TemperatureAt(t);
            var warmth = Math.Clamp(1 + (0.06 * (temperature - 20)), 0.3, 1.5);
            var drying = _dryingRate * (Humidity / 50) * warmth;
            var change = (watering ? _wateringRate : 0) - drying;
            Humidity = Math.Clamp(Humidity + (change * step) + (humidityNoise * step / elapsed), 0, 100);
            remaining -= step;
        }
        Time = now > Time ? now : Time;
        if (elapsed > 0)
        {
            Ph = Math.Clamp(Ph + (0.02 * (_phMean - Ph) * Math.Min(elapsed / SubStepSeconds, 50)) + (Gaussian() * 0.01 * noiseScale), MinPh, MaxPh);
            Battery = Math.Max(MinBattery, Battery - (_batteryDrain * elapsed));
        }
        Temperature = TemperatureAt(Time);
        return new SoilReading(
            Math.Round(Temperature + (Gaussian() * 0.15), 1),
            Math.Round(Humidity, 1),
            Math.Round(Ph, 1),
            Math.Round(Math.Max(MinBattery, Battery + (Gaussian() * 0.003)), 2),
            Time);
    }

    double TemperatureAt(DateTimeOffset time)
    {
        // Warmest at 15:00 (UTC with the default day length): sin peaks a quarter period after 09:00.
        var phase = ((time.ToUnixTimeMilliseconds() / 1000.0) - (9 * 3600)) / _daySeconds;
        return _baseTemperature + (_temperatureAmplitude * Math.Sin(2 * Math.PI * phase));
    }

    double Between(double min, double max) => min + (_random.NextDouble() * (max - min));

    double Gaussian()
    {
        // Box–Muller.
        var u1 = 1.0 - _random.NextDouble();
        var u2 = _random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
