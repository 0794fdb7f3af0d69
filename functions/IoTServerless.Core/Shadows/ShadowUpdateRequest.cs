using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;

namespace IoTServerless.Core.Shadows;

/// <summary>
/// A validated update request: <c>{"state":{"desired":{…},"reported":{…}},"version":N,"clientToken":"…"}</c>.
/// Other top-level fields (<c>thingName</c>, <c>shadowName</c>, …) are ignored.
/// </summary>
public sealed class ShadowUpdateRequest
{
    /// <summary>AWS IoT's limit on a shadow request.</summary>
    public const int DefaultMaxRequestBytes = 8192;

    ShadowUpdateRequest(JsonObject? state, long? version, string? clientToken)
    {
        State = state;
        Version = version;
        ClientToken = clientToken;
    }

    /// <summary>The request's <c>state</c> as sent (nulls included); null for <c>"state": null</c>, which clears the shadow's state.</summary>
    public JsonObject? State { get; }

    /// <summary>The version the update is meant for, when given (optimistic locking).</summary>
    public long? Version { get; }

    public string? ClientToken { get; }

    /// <summary>Whether the request writes the desired section (<c>"desired": {…}</c>, not null).</summary>
    public bool WritesDesired => State?["desired"] is JsonObject;

    /// <summary>
    /// Validates an update request as AWS IoT does. Refusals carry the request's clientToken when it
    /// could be read: 413 over <paramref name="maxRequestBytes"/>; 415 when not UTF-8; 400 for invalid
    /// JSON, a missing <c>state</c>, <c>state</c>/<c>desired</c>/<c>reported</c> that are not objects
    /// (null desired/reported remove the section; null state clears both), other keys in <c>state</c>,
    /// a version that is not a non-negative integer, a clientToken that is not a string of at most 64
    /// bytes, nesting deeper than 6 levels (the state object is level 1; every object or array below
    /// adds one) and null inside arrays.
    /// </summary>
    public static bool TryParse(
        ReadOnlySpan<byte> utf8,
        [NotNullWhen(true)] out ShadowUpdateRequest? request,
        [NotNullWhen(false)] out ShadowError? error,
        int maxRequestBytes = DefaultMaxRequestBytes)
    {
        try
        {
            return TryParseCore(utf8, out request, out error, maxRequestBytes);
        }
        catch (InvalidOperationException)
        {
            // JSON text that parses but holds no valid string: an escaped lone surrogate ("\uD800"),
            // found when a nested object or string is first read.
            request = null;
            error = ShadowError.InvalidJson();
            return false;
        }
    }

    static bool TryParseCore(ReadOnlySpan<byte> utf8, out ShadowUpdateRequest? request, out ShadowError? error, int maxRequestBytes)
    {
        request = null;
        if (utf8.Length > maxRequestBytes)
        {
            error = ShadowError.PayloadTooLarge(ShadowClientToken.TryReadLeniently(utf8));
            return false;
        }
        if (!Utf8.IsValid(utf8))
        {
            error = ShadowError.UnsupportedEncoding();
            return false;
        }
        JsonObject root;
        try
        {
            if (ShadowJson.Parse(utf8) is not JsonObject parsed)
            {
                error = ShadowError.InvalidJson();
                return false;
            }
            root = parsed;
        }
        catch (JsonException)
        {
            error = ShadowError.InvalidJson();
            return false;
        }
        if (!ShadowClientToken.TryRead(root, out var clientToken, out error))
        {
            return false;
        }
        if (!TryReadVersion(root, out var version))
        {
            error = ShadowError.InvalidVersion(clientToken);
            return false;
        }
        if (!root.TryGetPropertyValue("state", out var stateNode))
        {
            error = ShadowError.MissingState(clientToken);
            return false;
        }
        JsonObject? state = null;
        if (stateNode is not null)
        {
            if (stateNode is not JsonObject stateObject)
            {
                error = ShadowError.StateNotObject(clientToken);
                return false;
            }
            state = stateObject;
            if (ValidateState(state, clientToken) is { } invalid)
            {
                error = invalid;
                return false;
            }
            // Reads every string once: an escaped lone surrogate throws here rather than when answering.
            _ = ShadowJson.ToUtf8(state);
        }
        request = new ShadowUpdateRequest(state, version, clientToken);
        error = null;
        return true;
    }

    static ShadowError? ValidateState(JsonObject state, string? clientToken)
    {
        foreach (var (name, section) in state)
        {
            switch (name)
            {
                case "desired" when section is not (null or JsonObject):
                    return ShadowError.DesiredNotObject(clientToken);
                case "reported" when section is not (null or JsonObject):
                    return ShadowError.ReportedNotObject(clientToken);
                case "desired" or "reported":
                    break;
                default:
                    return ShadowError.InvalidStateNode(name, clientToken);
            }
        }
        if (TooDeep(state, 0))
        {
            return ShadowError.TooDeep(clientToken);
        }
        return HasNullInArray(state, inArray: false) ? ShadowError.NullInArray(clientToken) : null;
    }

    /// <summary>Depth as AWS counts it: objects and arrays are levels, values are not; <paramref name="parentDepth"/> is the level above.</summary>
    static bool TooDeep(JsonNode? node, int parentDepth)
    {
        if (node is not (JsonObject or JsonArray))
        {
            return false;
        }
        var depth = parentDepth + 1;
        if (depth > ShadowDocument.MaxStateDepth)
        {
            return true;
        }
        if (node is JsonObject obj)
        {
            foreach (var (_, child) in obj)
            {
                if (TooDeep(child, depth))
                {
                    return true;
                }
            }
            return false;
        }
        foreach (var child in (JsonArray)node)
        {
            if (TooDeep(child, depth))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Arrays are single values and may not hold null anywhere inside them (null elsewhere removes a key).</summary>
    static bool HasNullInArray(JsonNode? node, bool inArray) => node switch
    {
        null => inArray,
        JsonObject obj => obj.Any(p => HasNullInArray(p.Value, inArray)),
        JsonArray array => array.Any(e => HasNullInArray(e, inArray: true)),
        _ => false,
    };

    static bool TryReadVersion(JsonObject root, out long? version)
    {
        version = null;
        if (!root.TryGetPropertyValue("version", out var node) || node is null)
        {
            return true;
        }
        if (node is JsonValue value && value.GetValueKind() == JsonValueKind.Number && value.TryGetValue<long>(out var v) && v >= 0)
        {
            version = v;
            return true;
        }
        return false;
    }
}

/// <summary>The <c>clientToken</c> of a shadow request: a string of at most 64 UTF-8 bytes, echoed in every response.</summary>
public static class ShadowClientToken
{
    public const int MaxBytes = 64;

    /// <summary>Refused requests larger than this are not read for their clientToken.</summary>
    const int MaxLenientBytes = 256 * 1024;

    /// <summary>
    /// The clientToken of a get or delete request, whose content AWS otherwise ignores: an empty or
    /// non-JSON request has none; a clientToken that is not a string, or longer than 64 bytes, is refused.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> request, out string? clientToken, [NotNullWhen(false)] out ShadowError? error)
    {
        clientToken = null;
        error = null;
        if (request.Trim(" \t\r\n"u8).IsEmpty || !Utf8.IsValid(request))
        {
            return true;
        }
        try
        {
            return ShadowJson.Parse(request) is not JsonObject root || TryRead(root, out clientToken, out error);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return true;
        }
    }

    internal static bool TryRead(JsonObject root, out string? clientToken, [NotNullWhen(false)] out ShadowError? error)
    {
        clientToken = null;
        error = null;
        if (!root.TryGetPropertyValue("clientToken", out var node) || node is null)
        {
            return true;
        }
        if (node is not JsonValue value || value.GetValueKind() != JsonValueKind.String)
        {
            error = ShadowError.InvalidClientToken(null);
            return false;
        }
        var token = value.GetValue<string>();
        if (Encoding.UTF8.GetByteCount(token) > MaxBytes)
        {
            // Still echoed: SDKs match responses by it, and this response is the answer to that request.
            error = ShadowError.InvalidClientToken(token);
            return false;
        }
        clientToken = token;
        return true;
    }

    /// <summary>A string clientToken of a request that is refused anyway (e.g. too large), for the echo; null when unreadable.</summary>
    internal static string? TryReadLeniently(ReadOnlySpan<byte> request)
    {
        if (request.Length > MaxLenientBytes)
        {
            return null;
        }
        try
        {
            return Utf8.IsValid(request) && ShadowJson.Parse(request) is JsonObject root
                && root["clientToken"] is JsonValue value && value.GetValueKind() == JsonValueKind.String
                ? value.GetValue<string>()
                : null;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return null;
        }
    }
}
