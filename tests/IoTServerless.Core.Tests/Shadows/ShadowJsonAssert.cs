using System.Text;
using System.Text.Json.Nodes;
using IoTServerless.Core.Shadows;

namespace IoTServerless.Core.Tests.Shadows;

static class ShadowJsonAssert
{
    /// <summary>Asserts that <paramref name="actual"/> (UTF-8 JSON) is the JSON <paramref name="expected"/> (key order aside).</summary>
    public static void Equal(string expected, byte[]? actual)
    {
        Assert.NotNull(actual);
        Equal(JsonNode.Parse(expected), JsonNode.Parse(actual));
    }

    public static void Equal(string expected, JsonNode? actual) => Equal(JsonNode.Parse(expected), actual);

    static void Equal(JsonNode? expected, JsonNode? actual)
    {
        if (!JsonNode.DeepEquals(expected, actual))
        {
            Assert.Fail($"JSON differs.\nexpected: {expected?.ToJsonString() ?? "null"}\nactual:   {actual?.ToJsonString() ?? "null"}");
        }
    }

    public static JsonObject Parse(byte[]? payload)
    {
        Assert.NotNull(payload);
        return Assert.IsType<JsonObject>(JsonNode.Parse(payload));
    }

    public static byte[] Utf8(string json) => Encoding.UTF8.GetBytes(json);

    public static ShadowUpdateRequest Request(string json, int maxRequestBytes = ShadowUpdateRequest.DefaultMaxRequestBytes)
    {
        var parsed = ShadowUpdateRequest.TryParse(Utf8(json), out var request, out var error, maxRequestBytes);
        Assert.True(parsed, error?.Message);
        return request!;
    }

    public static ShadowError Refusal(string json, int maxRequestBytes = ShadowUpdateRequest.DefaultMaxRequestBytes) => Refusal(Utf8(json), maxRequestBytes);

    public static ShadowError Refusal(byte[] payload, int maxRequestBytes = ShadowUpdateRequest.DefaultMaxRequestBytes)
    {
        Assert.False(ShadowUpdateRequest.TryParse(payload, out _, out var error, maxRequestBytes));
        return error!;
    }
}
