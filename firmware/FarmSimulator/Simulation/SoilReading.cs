namespace FarmSimulator.Simulation;

/// <summary>One sensor reading: °C, % volumetric water content, pH, battery volts.</summary>
public sealed record SoilReading(double Temperature, double Humidity, double Ph, double Battery, DateTimeOffset Timestamp);
