namespace IoTServerless.Device;

/// <summary>The broker refused an operation (a rejected CONNECT, PUBLISH or SUBSCRIBE).</summary>
public sealed class DeviceClientException : Exception
{
    public DeviceClientException()
    {
    }

    public DeviceClientException(string message)
        : base(message)
    {
    }

    public DeviceClientException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
