using System.Text.Json;
using System.Text.Json.Nodes;

namespace IoTServerless.Device.Shadows;

/// <summary>Reading the shadow service's JSON leniently: wrong shapes are reported, never thrown from handlers.</summary>
static class ShadowJson
{
    /// <summary>The payload as a JSON object; null for invalid JSON or another kind of value.</summary>
    public static JsonObject? TryParseObject(ReadOnlyMemory<byte> utf8Json)
    {
        try
        {
            return JsonNode.Parse(utf8Json.Span) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Removes and returns <paramref name="name"/> when it is an object (so it can be handed out without a parent).</summary>
    public static JsonObject? Detach(JsonObject parent, string name)
    {
        if (parent[name] is not JsonObject child)
        {
            return null;
        }
        parent.Remove(name);
        return child;
    }

    public static bool TryGetString(JsonNode? node, out string value)
    {
        value = "";
        return node is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.TryGetValue(out value!);
    }

    /// <summary>An integral JSON number (<c>3</c> or <c>3.0</c>) that fits in a long.</summary>
    public static bool TryGetInt64(JsonNode? node, out long value)
    {
        value = 0;
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number)
        {
            return false;
        }
        if (v.TryGetValue(out value))
        {
            return true;
        }
        if (v.TryGetValue(out double d) && double.IsFinite(d) && Math.Floor(d) == d && d >= long.MinValue && d < long.MaxValue)
        {
            value = (long)d;
            return true;
        }
        return false;
    }

    public static long RequireInt64(JsonObject response, string name, string topic)
        => TryGetInt64(response[name], out var value) ? value : throw new FormatException($"The {topic} response has no integral '{name}'.");

    /// <summary>The <c>timestamp</c> (epoch seconds) as an instant.</summary>
    public static DateTimeOffset RequireTimestamp(JsonObject response, string topic)
        => TryGetTimestamp(response, out var timestamp) ? timestamp : throw new FormatException($"The {topic} response has no valid 'timestamp' (epoch seconds).");

    public static bool TryGetTimestamp(JsonObject response, out DateTimeOffset timestamp)
    {
        timestamp = default;
        if (!TryGetInt64(response["timestamp"], out var seconds) || seconds < 0 || seconds > 253_402_300_799)
        {
            return false;
        }
        timestamp = DateTimeOffset.FromUnixTimeSeconds(seconds);
        return true;
    }
}
