namespace IoTServerless.Core.Security.Certificates;

/// <summary>AWS IoT certificate statuses.</summary>
public static class CertificateStatus
{
    public const string Active = "ACTIVE";
    public const string Inactive = "INACTIVE";
    public const string Revoked = "REVOKED";
    public const string PendingActivation = "PENDING_ACTIVATION";

    public static readonly string[] DeviceStatuses = [Active, Inactive, Revoked, PendingActivation];
    public static readonly string[] CaStatuses = [Active, Inactive];
}

/// <summary>A registered device certificate (AWS CertificateDescription).</summary>
public sealed record DeviceCertificate(
    string CertificateId,
    string Status,
    string CertificatePem,
    string? CaCertificateId,
    DateTimeOffset CreationDate,
    DateTimeOffset LastModifiedDate,
    DateTimeOffset NotBefore,
    DateTimeOffset NotAfter,
    string Subject,
    string Issuer,
    string SerialNumber,
    string? ETag = null);

/// <summary>A registered CA certificate (AWS CACertificateDescription).</summary>
public sealed record CaCertificate(
    string CertificateId,
    string Status,
    string CertificatePem,
    bool AutoRegistration,
    DateTimeOffset CreationDate,
    DateTimeOffset LastModifiedDate,
    DateTimeOffset NotBefore,
    DateTimeOffset NotAfter,
    string Subject,
    string? ETag = null);

/// <summary>A failed certificate operation, with AWS's error code and the HTTP status to answer.</summary>
public sealed class CertificateException(int status, string code, string message) : ControlPlaneException(status, code, message)
{
    public static CertificateException Invalid(string message) => new(400, "InvalidRequestException", message);
    public static CertificateException NotFound(string message) => new(404, "ResourceNotFoundException", message);
    public static CertificateException AlreadyExists(string message) => new(409, "ResourceAlreadyExistsException", message);
    public static CertificateException State(string message) => new(409, "CertificateStateException", message);
    public static CertificateException DeleteConflict(string message) => new(409, "DeleteConflictException", message);
}

/// <summary>Certificate ARNs in AWS's form; region and account are the platform's settings.</summary>
public static class CertificateArns
{
    public static string Device(string region, string account, string certificateId) => $"arn:aws:iot:{region}:{account}:cert/{certificateId}";

    public static string Ca(string region, string account, string certificateId) => $"arn:aws:iot:{region}:{account}:cacert/{certificateId}";

    /// <summary>The certificate id in a principal given as an ARN (<c>…:cert/{id}</c>) or as the bare id.</summary>
    public static string? IdFromPrincipal(string? principal)
    {
        if (string.IsNullOrWhiteSpace(principal))
        {
            return null;
        }
        var slash = principal.LastIndexOf("cert/", StringComparison.Ordinal);
        var id = slash >= 0 ? principal[(slash + 5)..] : principal;
        return id.Length == 64 && id.All(char.IsAsciiHexDigitLower) ? id : null;
    }
}
