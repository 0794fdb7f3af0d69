namespace IoTServerless.Core.Events;

/// <summary>
/// A lifecycle event as AWS IoT Core publishes it on <c>$aws/events/presence/...</c> and
/// <c>$aws/events/subscriptions/...</c>.
/// </summary>
public sealed record LifecycleEvent
{
    public required string ClientId { get; init; }

    /// <summary>Epoch milliseconds.</summary>
    public long Timestamp { get; init; }

    /// <summary>connected, disconnected, connect_failed, subscribed, unsubscribed.</summary>
    public required string EventType { get; init; }

    public string? SessionIdentifier { get; init; }

    public string? PrincipalIdentifier { get; init; }

    /// <summary>Rises with every connection of the same client id.</summary>
    public long VersionNumber { get; init; }

    public string? IpAddress { get; init; }

    public bool? ClientInitiatedDisconnect { get; init; }

    public string? DisconnectReason { get; init; }

    /// <summary>Why a connection was refused (<c>connect_failed</c>): one of <see cref="ConnectFailureReasons"/>.</summary>
    public string? FailureReason { get; init; }

    public IReadOnlyList<string>? Topics { get; init; }
}

public static class LifecycleEventTypes
{
    public const string Connected = "connected";
    public const string Disconnected = "disconnected";
    public const string ConnectFailed = "connect_failed";
}

/// <summary>Why a CONNECT was refused, as a <c>connect_failed</c> event says.</summary>
public static class ConnectFailureReasons
{
    /// <summary>The certificate is unknown, not ACTIVE, outside its validity, or its CA is not ACTIVE.</summary>
    public const string AuthenticationFailure = "AUTHENTICATION_FAILURE";

    /// <summary>The certificate is fine but its policies do not allow <c>iot:Connect</c> for the client id.</summary>
    public const string AuthorizationFailure = "AUTHORIZATION_FAILURE";

    public const string ClientIdInvalid = "CLIENT_ID_INVALID";
    public const string ServerError = "SERVER_ERROR";
}

/// <summary>The contract's disconnect reasons.</summary>
public static class DisconnectReasons
{
    public const string ClientInitiated = "CLIENT_INITIATED_DISCONNECT";
    public const string ConnectionLost = "CONNECTION_LOST";
    public const string DuplicateClientId = "DUPLICATE_CLIENTID";
    public const string KeepAliveTimeout = "MQTT_KEEP_ALIVE_TIMEOUT";
    public const string AuthError = "AUTH_ERROR";
    public const string ForbiddenAccess = "FORBIDDEN_ACCESS";
    public const string ServerInitiated = "SERVER_INITIATED_DISCONNECT";
    public const string ApiInitiated = "API_INITIATED_DISCONNECT";
    public const string Throttled = "THROTTLED";
    public const string ClientError = "CLIENT_ERROR";
    public const string ServerError = "SERVER_ERROR";
}
