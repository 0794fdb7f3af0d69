using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace IoTServerless.Core.Shadows;

/// <summary>What an operation on a shadow leads to: the result to answer with and, when accepted, the document to store.</summary>
public sealed record ShadowOutcome(ShadowResult Result, ShadowDocument? Updated);

/// <summary>
/// A device shadow as stored: its <c>desired</c> and <c>reported</c> sections, their per-leaf
/// metadata (<c>{"timestamp": epochSeconds}</c> mirroring the state; an array's metadata is an array
/// of its elements' metadata), and its version. A shadow that does not exist (never created, or
/// deleted) keeps the last version it had so a re-created shadow continues from it.
/// Pure: every operation returns new documents and the response documents; nothing here does I/O.
/// </summary>
/// <remarks>
/// Update semantics (AWS IoT Device Shadow): only the named fields change; <c>null</c> removes a key,
/// and an object left empty by removals is removed with it; <c>"desired": null</c> removes the
/// section, <c>"state": null</c> both; arrays are single values, replaced whole; a section left empty
/// is removed. Every accepted update adds one to the version. The <c>update/delta</c> document is
/// produced when the update writes the desired section and desired then differs from reported: it
/// holds every desired leaf missing from or different in reported (not only the updated ones), with
/// the desired metadata of those leaves. Updates of reported alone produce no delta (so a device
/// reporting a state other than the desired one is not sent the same delta again).
/// </remarks>
public sealed class ShadowDocument
{
    /// <summary>Nesting allowed in a request's state: the state object is level 1, each object or array below adds one.</summary>
    public const int MaxStateDepth = 6;

    /// <summary>AWS IoT's limit on desired + reported: the UTF-8 bytes of their compact JSON.</summary>
    public const int DefaultMaxStateBytes = 8192;

    readonly JsonObject? _desired;
    readonly JsonObject? _reported;
    readonly JsonObject? _desiredMetadata;
    readonly JsonObject? _reportedMetadata;

    ShadowDocument(JsonObject? desired, JsonObject? reported, JsonObject? desiredMetadata, JsonObject? reportedMetadata, long version, bool exists)
    {
        _desired = desired;
        _reported = reported;
        _desiredMetadata = desiredMetadata;
        _reportedMetadata = reportedMetadata;
        Version = version;
        Exists = exists;
    }

    /// <summary>A shadow that was never created.</summary>
    public static ShadowDocument None { get; } = new(null, null, null, null, 0, exists: false);

    /// <summary>A deleted shadow that had reached <paramref name="version"/>.</summary>
    public static ShadowDocument Deleted(long version) => new(null, null, null, null, version, exists: false);

    /// <summary>A shadow read back from <see cref="StateJson"/> and <see cref="MetadataJson"/>. Throws <see cref="JsonException"/> on corrupt text.</summary>
    public static ShadowDocument FromStorage(string? state, string? metadata, long version, bool deleted)
    {
        if (deleted)
        {
            return Deleted(version);
        }
        var s = Sections(state);
        var m = Sections(metadata);
        return new ShadowDocument(s?["desired"] as JsonObject, s?["reported"] as JsonObject, m?["desired"] as JsonObject, m?["reported"] as JsonObject, version, exists: true);
    }

    /// <summary>Whether the shadow exists (was created and not deleted since).</summary>
    public bool Exists { get; }

    /// <summary>The current version; for a shadow that does not exist, the last version it had (0 if never created).</summary>
    public long Version { get; }

    /// <summary><c>{"desired"?, "reported"?}</c> (a copy).</summary>
    public JsonObject State => Copy(_desired, _reported);

    /// <summary><c>{"desired"?, "reported"?}</c> metadata (a copy).</summary>
    public JsonObject Metadata => Copy(_desiredMetadata, _reportedMetadata);

    /// <summary>Every desired leaf missing from or different in reported, nested down to the leaf; null when there is none.</summary>
    public JsonObject? Delta => ComputeDelta();

    /// <summary>The size counted against the limit: UTF-8 bytes of the compact JSON of desired plus that of reported.</summary>
    public int StateBytes => Size(_desired) + Size(_reported);

    /// <summary>The state as stored: compact JSON <c>{"desired"?, "reported"?}</c>.</summary>
    public string StateJson() => Encoding.UTF8.GetString(ShadowJson.Write(w => WriteSections(w, _desired, _reported, null)));

    /// <summary>The metadata as stored: compact JSON <c>{"desired"?, "reported"?}</c>.</summary>
    public string MetadataJson() => Encoding.UTF8.GetString(ShadowJson.Write(w => WriteSections(w, _desiredMetadata, _reportedMetadata, null)));

    /// <summary>
    /// Applies an update. Refused: 409 when the request names a version other than <see cref="Version"/>;
    /// 413 when desired + reported would exceed <paramref name="maxStateBytes"/> (nothing changes).
    /// Accepted: <c>update/accepted</c> (the request's state as sent, metadata for every leaf it
    /// names, version, timestamp, clientToken), <c>update/documents</c> (previous — absent when the
    /// shadow did not exist — and current) and, when there is one to publish, <c>update/delta</c>.
    /// </summary>
    public ShadowOutcome Update(ShadowUpdateRequest request, long timestamp, int maxStateBytes = DefaultMaxStateBytes)
    {
        var token = request.ClientToken;
        if (request.Version is { } expected && expected != Version)
        {
            return Refused(ShadowError.VersionConflict(token), timestamp);
        }
        JsonObject? desired = null, reported = null, desiredMetadata = null, reportedMetadata = null;
        if (request.State is { } state)
        {
            desired = Clone(_desired);
            reported = Clone(_reported);
            desiredMetadata = Clone(_desiredMetadata);
            reportedMetadata = Clone(_reportedMetadata);
            if (state.TryGetPropertyValue("desired", out var desiredPatch))
            {
                ApplySection(ref desired, ref desiredMetadata, desiredPatch, timestamp);
            }
            if (state.TryGetPropertyValue("reported", out var reportedPatch))
            {
                ApplySection(ref reported, ref reportedMetadata, reportedPatch, timestamp);
            }
        }
        if (Size(desired) + Size(reported) > maxStateBytes)
        {
            return Refused(ShadowError.PayloadTooLarge(token), timestamp);
        }
        var updated = new ShadowDocument(desired, reported, desiredMetadata, reportedMetadata, Version + 1, exists: true);

        var accepted = ShadowJson.Write(w =>
        {
            w.WriteStartObject();
            ShadowJson.WriteProperty(w, "state", request.State);
            ShadowJson.WriteProperty(w, "metadata", MetadataOf(request.State, timestamp));
            w.WriteNumber("version", updated.Version);
            w.WriteNumber("timestamp", timestamp);
            WriteClientToken(w, token);
            w.WriteEndObject();
        });

        byte[]? deltaPayload = null;
        if (request.WritesDesired && updated.ComputeDelta() is { } delta)
        {
            deltaPayload = ShadowJson.Write(w =>
            {
                w.WriteStartObject();
                w.WriteNumber("version", updated.Version);
                w.WriteNumber("timestamp", timestamp);
                ShadowJson.WriteProperty(w, "state", delta);
                ShadowJson.WriteProperty(w, "metadata", MetadataFor(delta, updated._desiredMetadata));
                WriteClientToken(w, token);
                w.WriteEndObject();
            });
        }

        var documents = ShadowJson.Write(w =>
        {
            w.WriteStartObject();
            if (Exists)
            {
                w.WritePropertyName("previous");
                WriteSnapshot(w);
            }
            w.WritePropertyName("current");
            updated.WriteSnapshot(w);
            w.WriteNumber("timestamp", timestamp);
            WriteClientToken(w, token);
            w.WriteEndObject();
        });

        return new ShadowOutcome(new ShadowResult(200, accepted, deltaPayload, documents), updated);
    }

    /// <summary>
    /// <c>get/accepted</c>: <c>{"state":{desired?, reported?, delta?}, "metadata":{desired?, reported?, delta?},
    /// "version", "timestamp", "clientToken"?}</c>; 404 when the shadow does not exist.
    /// </summary>
    /// <param name="name">The name a 404 gives: the shadow name, or the thing name for the classic shadow.</param>
    public ShadowResult Get(string name, string? clientToken, long timestamp)
    {
        if (!Exists)
        {
            return ShadowError.NotFound(name, clientToken).ToResult(timestamp);
        }
        var delta = ComputeDelta();
        var payload = ShadowJson.Write(w =>
        {
            w.WriteStartObject();
            w.WritePropertyName("state");
            WriteSections(w, _desired, _reported, delta);
            w.WritePropertyName("metadata");
            WriteSections(w, _desiredMetadata, _reportedMetadata, delta is null ? null : MetadataFor(delta, _desiredMetadata));
            w.WriteNumber("version", Version);
            w.WriteNumber("timestamp", timestamp);
            WriteClientToken(w, clientToken);
            w.WriteEndObject();
        });
        return new ShadowResult(200, payload, null, null);
    }

    /// <summary>
    /// Deletes the shadow: <c>delete/accepted</c> is <c>{"version", "timestamp", "clientToken"?}</c> and
    /// the document to store keeps the version; 404 when the shadow does not exist.
    /// </summary>
    public ShadowOutcome Delete(string name, string? clientToken, long timestamp)
    {
        if (!Exists)
        {
            return Refused(ShadowError.NotFound(name, clientToken), timestamp);
        }
        var payload = ShadowJson.Write(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("version", Version);
            w.WriteNumber("timestamp", timestamp);
            WriteClientToken(w, clientToken);
            w.WriteEndObject();
        });
        return new ShadowOutcome(new ShadowResult(200, payload, null, null), Deleted(Version));
    }

    static ShadowOutcome Refused(ShadowError error, long timestamp) => new(error.ToResult(timestamp), null);

    static void ApplySection(ref JsonObject? section, ref JsonObject? metadata, JsonNode? patch, long timestamp)
    {
        if (patch is not JsonObject changes)
        {
            // "desired": null (or "reported": null) removes the whole section.
            section = null;
            metadata = null;
            return;
        }
        section ??= [];
        metadata ??= [];
        Merge(section, metadata, changes, timestamp);
        if (section.Count == 0)
        {
            section = null;
            metadata = null;
        }
    }

    /// <summary>Merges <paramref name="patch"/> into <paramref name="target"/>, keeping <paramref name="metadata"/> in step.</summary>
    static void Merge(JsonObject target, JsonObject metadata, JsonObject patch, long timestamp)
    {
        foreach (var (key, value) in patch)
        {
            switch (value)
            {
                case null:
                    target.Remove(key);
                    metadata.Remove(key);
                    break;
                case JsonObject changes when target[key] is JsonObject existing:
                    if (metadata[key] is not JsonObject existingMetadata)
                    {
                        existingMetadata = [];
                        metadata[key] = existingMetadata;
                    }
                    Merge(existing, existingMetadata, changes, timestamp);
                    if (existing.Count == 0 && changes.Count > 0)
                    {
                        // Emptied by removals: the object goes too.
                        target.Remove(key);
                        metadata.Remove(key);
                    }
                    break;
                case JsonObject changes:
                    // A new object (or one replacing a value): written without its nulls; nothing when it held only nulls.
                    if (WithoutNulls(changes) is { } fresh)
                    {
                        target[key] = fresh;
                        metadata[key] = MetadataOf(fresh, timestamp);
                    }
                    break;
                default:
                    target[key] = value.DeepClone();
                    metadata[key] = MetadataOf(value, timestamp);
                    break;
            }
        }
    }

    /// <summary>A copy without nulls; null when removing them left it empty (an empty object as sent is kept).</summary>
    static JsonObject? WithoutNulls(JsonObject source)
    {
        var result = new JsonObject();
        var removed = false;
        foreach (var (key, value) in source)
        {
            switch (value)
            {
                case null:
                    removed = true;
                    break;
                case JsonObject child:
                    if (WithoutNulls(child) is { } kept)
                    {
                        result[key] = kept;
                    }
                    else
                    {
                        removed = true;
                    }
                    break;
                default:
                    result[key] = value.DeepClone();
                    break;
            }
        }
        return removed && result.Count == 0 ? null : result;
    }

    /// <summary>The metadata of a value: objects mirrored, arrays element by element, every other leaf (null included) <c>{"timestamp"}</c>.</summary>
    static JsonNode MetadataOf(JsonNode? node, long timestamp)
    {
        switch (node)
        {
            case JsonObject obj:
                var metadata = new JsonObject();
                foreach (var (key, value) in obj)
                {
                    metadata[key] = MetadataOf(value, timestamp);
                }
                return metadata;
            case JsonArray array:
                var elements = new JsonArray();
                foreach (var element in array)
                {
                    elements.Add(MetadataOf(element, timestamp));
                }
                return elements;
            default:
                return new JsonObject { ["timestamp"] = timestamp };
        }
    }

    JsonObject? ComputeDelta()
    {
        if (_desired is null)
        {
            return null;
        }
        var delta = Diff(_desired, _reported);
        return delta.Count == 0 ? null : delta;
    }

    static JsonObject Diff(JsonObject desired, JsonObject? reported)
    {
        var delta = new JsonObject();
        foreach (var (key, wanted) in desired)
        {
            JsonNode? actual = null;
            var present = reported is not null && reported.TryGetPropertyValue(key, out actual);
            if (present && wanted is JsonObject wantedObject && actual is JsonObject actualObject)
            {
                var nested = Diff(wantedObject, actualObject);
                if (nested.Count > 0)
                {
                    delta[key] = nested;
                }
            }
            else if (!present || !JsonNode.DeepEquals(wanted, actual))
            {
                delta[key] = wanted?.DeepClone();
            }
        }
        return delta;
    }

    /// <summary>The desired metadata of the delta's leaves, in the delta's shape.</summary>
    static JsonNode? MetadataFor(JsonNode? delta, JsonNode? metadata)
    {
        if (delta is not JsonObject obj)
        {
            return metadata?.DeepClone();
        }
        var result = new JsonObject();
        foreach (var (key, value) in obj)
        {
            if (MetadataFor(value, (metadata as JsonObject)?[key]) is { } child)
            {
                result[key] = child;
            }
        }
        return result;
    }

    void WriteSnapshot(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WritePropertyName("state");
        WriteSections(w, _desired, _reported, null);
        w.WritePropertyName("metadata");
        WriteSections(w, _desiredMetadata, _reportedMetadata, null);
        w.WriteNumber("version", Version);
        w.WriteEndObject();
    }

    static void WriteSections(Utf8JsonWriter w, JsonNode? desired, JsonNode? reported, JsonNode? delta)
    {
        w.WriteStartObject();
        if (desired is not null)
        {
            ShadowJson.WriteProperty(w, "desired", desired);
        }
        if (reported is not null)
        {
            ShadowJson.WriteProperty(w, "reported", reported);
        }
        if (delta is not null)
        {
            ShadowJson.WriteProperty(w, "delta", delta);
        }
        w.WriteEndObject();
    }

    static void WriteClientToken(Utf8JsonWriter w, string? clientToken)
    {
        if (clientToken is not null)
        {
            w.WriteString("clientToken", clientToken);
        }
    }

    static JsonObject Copy(JsonObject? desired, JsonObject? reported)
    {
        var result = new JsonObject();
        if (desired is not null)
        {
            result["desired"] = desired.DeepClone();
        }
        if (reported is not null)
        {
            result["reported"] = reported.DeepClone();
        }
        return result;
    }

    static JsonObject? Clone(JsonObject? node) => (JsonObject?)node?.DeepClone();

    static int Size(JsonObject? section) => section is null ? 0 : ShadowJson.ToUtf8(section).Length;

    static JsonObject? Sections(string? json) => string.IsNullOrEmpty(json) ? null : ShadowJson.Parse(json) as JsonObject;
}
