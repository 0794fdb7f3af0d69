using System.Security.Cryptography.X509Certificates;

namespace IoTServerless.Core.Security.Certificates;

/// <summary>
/// The platform CA that signs the device certificates the platform issues (CreateKeysAndCertificate,
/// CreateCertificateFromCsr, fleet provisioning). Its private key stays where it lives: a local key
/// file for development, Azure Key Vault in the cloud.
/// </summary>
public interface ICertificateAuthority
{
    /// <summary>The CA certificate (public part).</summary>
    Task<X509Certificate2> GetCertificateAsync(CancellationToken cancellationToken);

    /// <summary>Issues a device certificate for <paramref name="subjectPublicKey"/>.</summary>
    Task<X509Certificate2> IssueAsync(PublicKey subjectPublicKey, X500DistinguishedName subject, CancellationToken cancellationToken);
}

public sealed class CertificateAuthorityOptions
{
    public const string SectionName = "CertificateAuthority";

    /// <summary><c>Local</c> (a key pair in <see cref="LocalDirectory"/>) or <c>KeyVault</c>.</summary>
    public string Kind { get; set; } = "Local";

    /// <summary>Folder holding ca.crt and ca.key (created on first use when missing).</summary>
    public string LocalDirectory { get; set; } = ".local/ca";

    public Uri? KeyVaultUri { get; set; }

    /// <summary>Name of the Key Vault certificate whose key signs device certificates.</summary>
    public string KeyVaultCertificateName { get; set; } = "platform-ca";

    public string? ManagedIdentityClientId { get; set; }

    /// <summary>Validity of issued device certificates.</summary>
    public int DeviceCertificateValidityDays { get; set; } = 3650;
}
