namespace IoTServerless.Core;

/// <summary>
/// A control-plane request the platform refused, with AWS IoT's error code (e.g.
/// <c>ResourceNotFoundException</c>) and the HTTP status it is answered with. Nothing was stored.
/// </summary>
public abstract class ControlPlaneException(int status, string code, string message) : Exception(message)
{
    public int Status { get; } = status;

    public string Code { get; } = code;
}
