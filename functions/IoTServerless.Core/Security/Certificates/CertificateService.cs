using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using IoTServerless.Core.Registry;
using IoTServerless.Core.Security.Changes;
using IoTServerless.Core.Security.Policies;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Security.Certificates;

/// <summary>
/// AWS IoT's certificate operations: create keys and a certificate, sign a CSR, register device and
/// CA certificates (the CA with proof of possession of its key), statuses, deletion, and the
/// attachment of certificates (principals) to things.
/// </summary>
public sealed class CertificateService(
    CertificateStore store,
    ThingPrincipalStore principals,
    RegistrationCodeStore registrationCodes,
    ICertificateAuthority authority,
    ThingStore things,
    IdentityChangeFeed changes,
    PolicyStore policies,
    IOptions<PlatformOptions> platform,
    TimeProvider time,
    ILogger<CertificateService> logger)
{
    public string Arn(string certificateId) => CertificateArns.Device(platform.Value.Region, platform.Value.AccountId, certificateId);

    public string CaArn(string certificateId) => CertificateArns.Ca(platform.Value.Region, platform.Value.AccountId, certificateId);

    /// <summary>A new ECDSA P-256 key pair and a certificate for it, signed by the platform CA.</summary>
    public async Task<(DeviceCertificate Certificate, string PublicKeyPem, string PrivateKeyPem)> CreateKeysAndCertificateAsync(bool setAsActive, CancellationToken cancellationToken)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var publicKey = new PublicKey(key);
        using var issued = await authority.IssueAsync(publicKey, new X500DistinguishedName("CN=AWS IoT Certificate"), cancellationToken);
        var certificate = await StoreIssuedAsync(issued, setAsActive, cancellationToken);
        return (certificate, key.ExportSubjectPublicKeyInfoPem(), key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>Signs a device's CSR with the platform CA; the private key never leaves the device.</summary>
    public async Task<DeviceCertificate> CreateCertificateFromCsrAsync(string? csrPem, bool setAsActive, CancellationToken cancellationToken)
    {
        var csr = Pem.ReadSigningRequest(csrPem);
        using var issued = await authority.IssueAsync(csr.PublicKey, csr.SubjectName, cancellationToken);
        return await StoreIssuedAsync(issued, setAsActive, cancellationToken);
    }

    /// <summary>Certificates the platform issues have no registered CA (as AWS's own), so no caCertificateId.</summary>
    async Task<DeviceCertificate> StoreIssuedAsync(X509Certificate2 issued, bool setAsActive, CancellationToken cancellationToken)
    {
        var record = Describe(issued, setAsActive ? CertificateStatus.Active : CertificateStatus.Inactive, null);
        await store.AddAsync(record, cancellationToken);
        logger.LogInformation("Issued certificate {CertificateId} ({Status})", record.CertificateId, record.Status);
        return record;
    }

    /// <summary>Registers a device certificate signed by a registered CA (AWS RegisterCertificate).</summary>
    public async Task<DeviceCertificate> RegisterAsync(string? certificatePem, string? caCertificatePem, string? status, CancellationToken cancellationToken)
    {
        using var certificate = Pem.ReadCertificate(certificatePem, "certificatePem");
        var initial = ParseStatus(status ?? CertificateStatus.Inactive, CertificateStatus.DeviceStatuses);
        var cas = await store.ListCasAsync(cancellationToken);
        if (caCertificatePem is not null)
        {
            using var given = Pem.ReadCertificate(caCertificatePem, "caCertificatePem");
            var givenId = CertificateFactory.GetCertificateId(given);
            cas = [.. cas.Where(c => c.CertificateId == givenId)];
            if (cas.Count == 0)
            {
                throw CertificateException.NotFound("caCertificatePem is not a registered CA certificate.");
            }
        }
        var issuer = cas.FirstOrDefault(ca => IsIssuedBy(certificate, ca.CertificatePem))
            ?? throw CertificateException.Invalid("The certificate is not signed by a registered CA certificate (use certificate/register-no-ca for certificates without a registered CA).");
        CheckValidity(certificate);
        var record = Describe(certificate, initial, issuer.CertificateId);
        await store.AddAsync(record, cancellationToken);
        return record;
    }

    /// <summary>Registers a device certificate without its CA (AWS RegisterCertificateWithoutCA).</summary>
    public async Task<DeviceCertificate> RegisterWithoutCaAsync(string? certificatePem, string? status, CancellationToken cancellationToken)
    {
        using var certificate = Pem.ReadCertificate(certificatePem, "certificatePem");
        var initial = ParseStatus(status ?? CertificateStatus.Inactive, CertificateStatus.DeviceStatuses);
        CheckValidity(certificate);
        var record = Describe(certificate, initial, null);
        await store.AddAsync(record, cancellationToken);
        return record;
    }

    public Task<string> GetRegistrationCodeAsync(CancellationToken cancellationToken) => registrationCodes.GetOrCreateAsync(cancellationToken);

    /// <summary>
    /// Registers a CA certificate. Proof of possession: <paramref name="verificationCertificatePem"/>
    /// must be signed by the CA's private key and carry the account's registration code as its common name.
    /// </summary>
    public async Task<CaCertificate> RegisterCaAsync(string? caCertificatePem, string? verificationCertificatePem, bool setAsActive, bool allowAutoRegistration, CancellationToken cancellationToken)
    {
        using var ca = Pem.ReadCertificate(caCertificatePem, "caCertificate");
        var basic = ca.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault();
        if (basic is not { CertificateAuthority: true })
        {
            throw CertificateException.Invalid("caCertificate is not a CA certificate (basic constraints CA:TRUE is missing).");
        }
        if (verificationCertificatePem is null)
        {
            throw CertificateException.Invalid("verificationCertificate is required: a certificate signed by the CA's key whose common name is the registration code (GET /api/registrationcode).");
        }
        using var verification = Pem.ReadCertificate(verificationCertificatePem, "verificationCertificate");
        var code = await registrationCodes.GetOrCreateAsync(cancellationToken);
        if (verification.GetNameInfo(X509NameType.SimpleName, false) != code)
        {
            throw CertificateException.Invalid("verificationCertificate's common name is not this account's registration code.");
        }
        if (!IsIssuedBy(verification, ca))
        {
            throw CertificateException.Invalid("verificationCertificate is not signed by the CA certificate's private key: no proof of possession.");
        }
        CheckValidity(ca);
        var now = time.GetUtcNow();
        var record = new CaCertificate(CertificateFactory.GetCertificateId(ca), setAsActive ? CertificateStatus.Active : CertificateStatus.Inactive,
            ca.ExportCertificatePem(), allowAutoRegistration, now, now, ca.NotBefore.ToUniversalTime(), ca.NotAfter.ToUniversalTime(), ca.Subject);
        await store.AddCaAsync(record, cancellationToken);
        logger.LogInformation("Registered CA certificate {CertificateId} ({Status})", record.CertificateId, record.Status);
        return record;
    }

    public async Task<DeviceCertificate> GetAsync(string certificateId, CancellationToken cancellationToken)
        => await store.GetAsync(certificateId, cancellationToken) ?? throw CertificateException.NotFound($"Certificate {certificateId} does not exist.");

    public async Task<CaCertificate> GetCaAsync(string certificateId, CancellationToken cancellationToken)
        => await store.GetCaAsync(certificateId, cancellationToken) ?? throw CertificateException.NotFound($"CA certificate {certificateId} does not exist.");

    /// <summary>AWS UpdateCertificate: REVOKED is final.</summary>
    public async Task<DeviceCertificate> UpdateStatusAsync(string certificateId, string? newStatus, CancellationToken cancellationToken)
    {
        var status = ParseStatus(newStatus, CertificateStatus.DeviceStatuses);
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var current = await GetAsync(certificateId, cancellationToken);
            if (current.Status == CertificateStatus.Revoked && status != CertificateStatus.Revoked)
            {
                throw CertificateException.State($"Certificate {certificateId} is REVOKED; a revoked certificate cannot change status.");
            }
            if (await store.TrySetStatusAsync(certificateId, status, current.ETag!, time.GetUtcNow(), cancellationToken))
            {
                logger.LogInformation("Certificate {CertificateId} status {OldStatus} -> {NewStatus}", certificateId, current.Status, status);
                await changes.AppendAsync(IdentityChangeKinds.Certificate, certificateId, cancellationToken);
                return current with { Status = status };
            }
        }
        throw new CertificateException(409, "ConflictException", $"Certificate {certificateId} is being changed concurrently; retry.");
    }

    /// <summary>AWS DeleteCertificate: only an INACTIVE or REVOKED certificate with no attached things or policies.</summary>
    public async Task DeleteAsync(string certificateId, CancellationToken cancellationToken)
    {
        var current = await GetAsync(certificateId, cancellationToken);
        if (current.Status is CertificateStatus.Active or CertificateStatus.PendingActivation)
        {
            throw CertificateException.State($"Certificate {certificateId} is {current.Status}; deactivate or revoke it before deleting it.");
        }
        var attached = await principals.ListThingsAsync(certificateId, cancellationToken);
        if (attached.Count > 0)
        {
            throw CertificateException.DeleteConflict($"Certificate {certificateId} is attached to {attached.Count} thing(s); detach them first.");
        }
        var attachedPolicies = await policies.ListAttachedPoliciesAsync("cert/" + certificateId, cancellationToken);
        if (attachedPolicies.Count > 0)
        {
            throw CertificateException.DeleteConflict($"Certificate {certificateId} has {attachedPolicies.Count} attached polic(ies); detach them first.");
        }
        if (!await store.TryDeleteAsync(certificateId, current.ETag!, cancellationToken))
        {
            throw new CertificateException(409, "ConflictException", $"Certificate {certificateId} changed while being deleted; retry.");
        }
        await changes.AppendAsync(IdentityChangeKinds.Certificate, certificateId, cancellationToken);
    }

    public async Task<CaCertificate> UpdateCaStatusAsync(string certificateId, string? newStatus, CancellationToken cancellationToken)
    {
        var status = ParseStatus(newStatus, CertificateStatus.CaStatuses);
        var current = await GetCaAsync(certificateId, cancellationToken);
        if (!await store.TrySetCaStatusAsync(certificateId, status, current.ETag!, time.GetUtcNow(), cancellationToken))
        {
            throw new CertificateException(409, "ConflictException", $"CA certificate {certificateId} is being changed concurrently; retry.");
        }
        await changes.AppendAsync(IdentityChangeKinds.CaCertificate, certificateId, cancellationToken);
        return current with { Status = status };
    }

    public async Task DeleteCaAsync(string certificateId, CancellationToken cancellationToken)
    {
        var current = await GetCaAsync(certificateId, cancellationToken);
        if (current.Status == CertificateStatus.Active)
        {
            throw CertificateException.State($"CA certificate {certificateId} is ACTIVE; deactivate it before deleting it.");
        }
        if (!await store.TryDeleteCaAsync(certificateId, current.ETag!, cancellationToken))
        {
            throw new CertificateException(409, "ConflictException", $"CA certificate {certificateId} changed while being deleted; retry.");
        }
    }

    public async Task AttachThingPrincipalAsync(string thingName, string? principal, CancellationToken cancellationToken)
    {
        var certificateId = RequirePrincipal(principal);
        if (await things.GetAsync(thingName, cancellationToken) is null)
        {
            throw CertificateException.NotFound($"Thing {thingName} does not exist.");
        }
        await GetAsync(certificateId, cancellationToken);
        await principals.AttachAsync(thingName, certificateId, cancellationToken);
        await changes.AppendAsync(IdentityChangeKinds.Principal, certificateId, cancellationToken);
    }

    public async Task DetachThingPrincipalAsync(string thingName, string? principal, CancellationToken cancellationToken)
    {
        var certificateId = RequirePrincipal(principal);
        await principals.DetachAsync(thingName, certificateId, cancellationToken);
        await changes.AppendAsync(IdentityChangeKinds.Principal, certificateId, cancellationToken);
    }

    public Task<IReadOnlyList<string>> ListThingPrincipalsAsync(string thingName, CancellationToken cancellationToken)
        => principals.ListPrincipalsAsync(thingName, cancellationToken);

    public Task<IReadOnlyList<string>> ListPrincipalThingsAsync(string? principal, CancellationToken cancellationToken)
        => principals.ListThingsAsync(RequirePrincipal(principal), cancellationToken);

    static string RequirePrincipal(string? principal)
        => CertificateArns.IdFromPrincipal(principal)
            ?? throw CertificateException.Invalid("The principal (header x-amzn-principal) must be a certificate ARN or a 64-character certificate id.");

    static string ParseStatus(string? status, string[] allowed)
        => allowed.FirstOrDefault(s => s == status)
            ?? throw CertificateException.Invalid($"Invalid status '{status}'; expected one of {string.Join(", ", allowed)}.");

    void CheckValidity(X509Certificate2 certificate)
    {
        var now = time.GetUtcNow();
        if (certificate.NotAfter.ToUniversalTime() < now)
        {
            throw CertificateException.Invalid($"The certificate expired on {certificate.NotAfter.ToUniversalTime():O}.");
        }
    }

    internal static bool IsIssuedBy(X509Certificate2 certificate, string caPem)
    {
        using var ca = X509Certificate2.CreateFromPem(caPem);
        return IsIssuedBy(certificate, ca);
    }

    /// <summary>Whether <paramref name="ca"/>'s key signed <paramref name="certificate"/> (chain with the CA as the only root).</summary>
    static bool IsIssuedBy(X509Certificate2 certificate, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.IgnoreNotTimeValid | X509VerificationFlags.IgnoreWrongUsage;
        return chain.Build(certificate) && chain.ChainElements.Count == 2 && chain.ChainElements[1].Certificate.Thumbprint == ca.Thumbprint;
    }

    DeviceCertificate Describe(X509Certificate2 certificate, string status, string? caCertificateId)
        => Describe(certificate, status, caCertificateId, time.GetUtcNow());

    internal static DeviceCertificate Describe(X509Certificate2 certificate, string status, string? caCertificateId, DateTimeOffset now)
    {
        return new DeviceCertificate(CertificateFactory.GetCertificateId(certificate), status, certificate.ExportCertificatePem(), caCertificateId,
            now, now, certificate.NotBefore.ToUniversalTime(), certificate.NotAfter.ToUniversalTime(),
            certificate.Subject, certificate.Issuer, certificate.SerialNumber);
    }
}
