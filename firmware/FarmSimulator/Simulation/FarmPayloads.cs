using System.Buffers;
using System.Text.Json;

namespace FarmSimulator.Simulation;

/// <summary>The JSON documents devices publish. Timestamps are epoch seconds.</summary>
public static class FarmPayloads
{
    /// <summary><c>{"temperature":21.4,"humidity":41.7,"ph":6.6,"battery":3.71,"timestamp":1764339600}</c></summary>
    public static byte[] SensorData(SoilReading reading)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("temperature", reading.Temperature);
            json.WriteNumber("humidity", reading.Humidity);
            json.WriteNumber("ph", reading.Ph);
            json.WriteNumber("battery", reading.Battery);
            json.WriteNumber("timestamp", reading.Timestamp.ToUnixTimeSeconds());
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary><c>{"state":"ON","until":1764340200,"timestamp":1764339600}</c>; <c>until</c> is null while off.</summary>
    public static byte[] PumpState(DateTimeOffset? onUntil, DateTimeOffset now)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("state", onUntil is null ? "OFF" : "ON");
            if (onUntil is { } until)
            {
                json.WriteNumber("until", until.ToUnixTimeSeconds());
            }
            else
            {
                json.WriteNull("until");
            }
            json.WriteNumber("timestamp", now.ToUnixTimeSeconds());
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
