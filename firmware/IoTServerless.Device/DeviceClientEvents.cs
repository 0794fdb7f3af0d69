namespace IoTServerless.Device;

/// <summary>Raised after every successful connect (first one and reconnects).</summary>
public sealed class DeviceConnectedEventArgs(bool isReconnect, bool sessionPresent) : EventArgs
{
    public bool IsReconnect { get; } = isReconnect;

    /// <summary>Whether the broker resumed a persistent session.</summary>
    public bool SessionPresent { get; } = sessionPresent;
}

/// <summary>Raised when a connection that was up is lost or closed.</summary>
public sealed class DeviceDisconnectedEventArgs(string reason, Exception? exception, bool willReconnect) : EventArgs
{
    public string Reason { get; } = reason;

    public Exception? Exception { get; } = exception;

    /// <summary>True when the client is going to reconnect on its own.</summary>
    public bool WillReconnect { get; } = willReconnect;
}

/// <summary>Raised when a connect or reconnect attempt fails.</summary>
public sealed class DeviceConnectFailedEventArgs(Exception exception, int attempt) : EventArgs
{
    public Exception Exception { get; } = exception;

    /// <summary>0 for the first attempt of a connect or reconnect cycle.</summary>
    public int Attempt { get; } = attempt;
}

/// <summary>Raised when a subscription handler throws; the client carries on.</summary>
public sealed class DeviceHandlerFailedEventArgs(string topic, Exception exception) : EventArgs
{
    public string Topic { get; } = topic;

    public Exception Exception { get; } = exception;
}

/// <summary>Raised when the broker refuses a subscription that was (re)sent after a reconnect.</summary>
public sealed class DeviceSubscriptionRejectedEventArgs(string topicFilter, string reason) : EventArgs
{
    public string TopicFilter { get; } = topicFilter;

    public string Reason { get; } = reason;
}
