using System.Text.Json.Nodes;

namespace IoTServerless.Device.Shadows;

/// <summary>
/// An <c>update/delta</c> message: <see cref="State"/> holds every desired leaf that is missing from
/// or different in reported; <see cref="Version"/> is the shadow's version that produced it (deltas
/// may arrive out of order or twice: compare versions to discard old ones).
/// </summary>
public sealed class ShadowDeltaEventArgs(JsonObject state, long version, DateTimeOffset timestamp, JsonObject? metadata) : EventArgs
{
    public JsonObject State { get; } = state;

    public long Version { get; } = version;

    public DateTimeOffset Timestamp { get; } = timestamp;

    public JsonObject? Metadata { get; } = metadata;
}
