namespace IoTServerless.Core.Registry;

/// <summary>AWS IoT's control-plane error types that the registry answers with.</summary>
public enum RegistryError
{
    /// <summary>400 InvalidRequestException.</summary>
    InvalidRequest,

    /// <summary>404 ResourceNotFoundException.</summary>
    ResourceNotFound,

    /// <summary>409 ResourceAlreadyExistsException.</summary>
    ResourceAlreadyExists,

    /// <summary>409 VersionConflictException.</summary>
    VersionConflict,

    /// <summary>409 DeleteConflictException (the resource is still in use).</summary>
    DeleteConflict,

    /// <summary>410 LimitExceededException (a per-resource limit would be exceeded), as AWS IoT answers it.</summary>
    LimitExceeded,
}

/// <summary>A registry request that was refused; nothing was stored.</summary>
public sealed class RegistryException(RegistryError error, string message)
    : ControlPlaneException(StatusOf(error), error + "Exception", message)
{
    public RegistryError Error { get; } = error;

    static int StatusOf(RegistryError error) => error switch
    {
        RegistryError.InvalidRequest => 400,
        RegistryError.ResourceNotFound => 404,
        RegistryError.LimitExceeded => 410,
        _ => 409,
    };

    public static RegistryException Invalid(string message) => new(RegistryError.InvalidRequest, message);

    public static RegistryException NotFound(string message) => new(RegistryError.ResourceNotFound, message);
}
