namespace IoTServerless.Core.Shadows;

/// <summary>
/// A refused shadow request: the HTTP-style <see cref="Code"/> and AWS IoT's message for it, sent as
/// <c>{"code","message","timestamp","clientToken"}</c> on <c>…/rejected</c> and as the HTTP body.
/// </summary>
public sealed record ShadowError(int Code, string Message, string? ClientToken = null)
{
    public const string InvalidJsonMessage = "Payload contains invalid json";
    public const string MissingStateMessage = "Missing required node: state";
    public const string StateNotObjectMessage = "State node must be an object";
    public const string DesiredNotObjectMessage = "Desired node must be an object";
    public const string ReportedNotObjectMessage = "Reported node must be an object";
    public const string InvalidVersionMessage = "Invalid version";
    public const string InvalidClientTokenMessage = "Invalid clientToken";
    public const string TooDeepMessage = "JSON contains too many levels of nesting; maximum is 6";
    public const string NullInArrayMessage = "Arrays can't have null values";
    public const string VersionConflictMessage = "Version conflict";
    public const string PayloadTooLargeMessage = "The payload exceeds the maximum size allowed";
    public const string UnsupportedEncodingMessage = "Unsupported documented encoding; supported encoding is UTF-8";
    public const string TooManyRequestsMessage = "Too Many Requests";
    public const string InternalFailureMessage = "Internal service failure";

    public static ShadowError InvalidJson(string? clientToken = null) => new(400, InvalidJsonMessage, clientToken);

    public static ShadowError MissingState(string? clientToken) => new(400, MissingStateMessage, clientToken);

    public static ShadowError StateNotObject(string? clientToken) => new(400, StateNotObjectMessage, clientToken);

    public static ShadowError DesiredNotObject(string? clientToken) => new(400, DesiredNotObjectMessage, clientToken);

    public static ShadowError ReportedNotObject(string? clientToken) => new(400, ReportedNotObjectMessage, clientToken);

    /// <summary>A key of <c>state</c> other than <c>desired</c> and <c>reported</c>.</summary>
    public static ShadowError InvalidStateNode(string node, string? clientToken) => new(400, $"State contains an invalid node: '{node}'", clientToken);

    public static ShadowError InvalidVersion(string? clientToken) => new(400, InvalidVersionMessage, clientToken);

    public static ShadowError InvalidClientToken(string? clientToken) => new(400, InvalidClientTokenMessage, clientToken);

    public static ShadowError TooDeep(string? clientToken) => new(400, TooDeepMessage, clientToken);

    public static ShadowError NullInArray(string? clientToken) => new(400, NullInArrayMessage, clientToken);

    /// <summary>A request the HTTP API refuses: a thing or shadow name outside the contract's patterns (such topics never parse), a bad page size or token.</summary>
    public static ShadowError InvalidRequest(string message, string? clientToken) => new(400, message, clientToken);

    /// <summary>404 naming the shadow as AWS does: the shadow name, or the thing name for the classic shadow.</summary>
    public static ShadowError NotFound(string name, string? clientToken) => new(404, $"No shadow exists with name: '{name}'", clientToken);

    public static ShadowError VersionConflict(string? clientToken) => new(409, VersionConflictMessage, clientToken);

    public static ShadowError PayloadTooLarge(string? clientToken) => new(413, PayloadTooLargeMessage, clientToken);

    public static ShadowError UnsupportedEncoding() => new(415, UnsupportedEncodingMessage);

    public static ShadowError TooManyRequests(string? clientToken) => new(429, TooManyRequestsMessage, clientToken);

    public static ShadowError Internal(string? clientToken) => new(500, InternalFailureMessage, clientToken);

    /// <summary>The error document (UTF-8 JSON).</summary>
    public byte[] ToPayload(long timestamp) => ShadowJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("code", Code);
        w.WriteString("message", Message);
        w.WriteNumber("timestamp", timestamp);
        if (ClientToken is not null)
        {
            w.WriteString("clientToken", ClientToken);
        }
        w.WriteEndObject();
    });

    /// <summary>This error as an operation's result.</summary>
    public ShadowResult ToResult(long timestamp) => new(Code, ToPayload(timestamp), null, null);
}
