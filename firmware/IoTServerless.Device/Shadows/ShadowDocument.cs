using System.Text.Json.Nodes;

namespace IoTServerless.Device.Shadows;

/// <summary>
/// A shadow as <c>get/accepted</c> returns it: the <c>desired</c>, <c>reported</c> and <c>delta</c>
/// sections of <c>state</c> (null when absent), <c>metadata</c>, <c>version</c> and <c>timestamp</c>
/// (epoch seconds on the wire).
/// </summary>
public sealed class ShadowDocument(JsonObject? desired, JsonObject? reported, JsonObject? delta, long version, DateTimeOffset timestamp, JsonObject? metadata = null)
{
    public JsonObject? Desired { get; } = desired;

    public JsonObject? Reported { get; } = reported;

    /// <summary>Every desired leaf that is missing from or different in reported; null when they agree.</summary>
    public JsonObject? Delta { get; } = delta;

    public long Version { get; } = version;

    public DateTimeOffset Timestamp { get; } = timestamp;

    /// <summary>Per-leaf <c>{"timestamp":…}</c> of the sections; null when absent.</summary>
    public JsonObject? Metadata { get; } = metadata;

    /// <summary>Reads a <c>get/accepted</c> body; throws <see cref="FormatException"/> without a version or timestamp.</summary>
    internal static ShadowDocument FromResponse(JsonObject response)
    {
        var state = ShadowJson.Detach(response, "state");
        return new ShadowDocument(
            state is null ? null : ShadowJson.Detach(state, "desired"),
            state is null ? null : ShadowJson.Detach(state, "reported"),
            state is null ? null : ShadowJson.Detach(state, "delta"),
            ShadowJson.RequireInt64(response, "version", "get/accepted"),
            ShadowJson.RequireTimestamp(response, "get/accepted"),
            ShadowJson.Detach(response, "metadata"));
    }
}

/// <summary>
/// What <c>update/accepted</c> returns: the request's <c>state</c> as the service applied it, the
/// shadow's new <c>version</c>, the <c>timestamp</c> and the per-leaf <c>metadata</c>.
/// </summary>
public sealed class ShadowUpdateResult(JsonObject state, long version, DateTimeOffset timestamp, JsonObject? metadata = null)
{
    public JsonObject State { get; } = state;

    public long Version { get; } = version;

    public DateTimeOffset Timestamp { get; } = timestamp;

    public JsonObject? Metadata { get; } = metadata;

    /// <summary>Reads an <c>update/accepted</c> body; throws <see cref="FormatException"/> without a version or timestamp.</summary>
    internal static ShadowUpdateResult FromResponse(JsonObject response)
        => new(
            ShadowJson.Detach(response, "state") ?? [],
            ShadowJson.RequireInt64(response, "version", "update/accepted"),
            ShadowJson.RequireTimestamp(response, "update/accepted"),
            ShadowJson.Detach(response, "metadata"));
}
