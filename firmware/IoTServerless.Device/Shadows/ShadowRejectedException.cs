namespace IoTServerless.Device.Shadows;

/// <summary>
/// The shadow service answered a request on its <c>…/rejected</c> topic:
/// <c>{"code":409,"message":"Version conflict","timestamp":…,"clientToken":…}</c>.
/// </summary>
public sealed class ShadowRejectedException : Exception
{
    public ShadowRejectedException()
        : this(0, "The shadow request was rejected.")
    {
    }

    public ShadowRejectedException(string message)
        : base(message)
    {
        ErrorMessage = message;
    }

    public ShadowRejectedException(string message, Exception innerException)
        : base(message, innerException)
    {
        ErrorMessage = message;
    }

    public ShadowRejectedException(int code, string errorMessage)
        : base($"The shadow request was rejected: {code} {errorMessage}")
    {
        Code = code;
        ErrorMessage = errorMessage;
    }

    /// <summary>The HTTP-style error code (400, 401, 403, 404, 409, 413, 415, 429, 500); 0 when the response had none.</summary>
    public int Code { get; }

    /// <summary>The response's <c>message</c>.</summary>
    public string ErrorMessage { get; }
}
