using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Security.Certificates;

/// <summary>The platform CA as a key pair in a local (git-ignored) folder; created on first use.</summary>
public sealed class LocalCertificateAuthority(IOptions<CertificateAuthorityOptions> options) : ICertificateAuthority, IDisposable
{
    readonly SemaphoreSlim _lock = new(1, 1);
    X509Certificate2? _ca;

    public async Task<X509Certificate2> GetCertificateAsync(CancellationToken cancellationToken)
        => X509CertificateLoader.LoadCertificate((await LoadAsync(cancellationToken)).RawData);

    public async Task<X509Certificate2> IssueAsync(PublicKey subjectPublicKey, X500DistinguishedName subject, CancellationToken cancellationToken)
    {
        var ca = await LoadAsync(cancellationToken);
        using var key = ca.GetECDsaPrivateKey() ?? throw new InvalidOperationException("The local CA has no ECDSA key.");
        var generator = X509SignatureGenerator.CreateForECDsa(key);
        return DeviceCertificateIssuer.Issue(ca.SubjectName, ca, generator, subjectPublicKey, subject, TimeSpan.FromDays(options.Value.DeviceCertificateValidityDays));
    }

    public void Dispose()
    {
        _lock.Dispose();
        _ca?.Dispose();
    }

    async Task<X509Certificate2> LoadAsync(CancellationToken cancellationToken)
    {
        if (_ca is not null)
        {
            return _ca;
        }
        await _lock.WaitAsync(cancellationToken);
        try
        {
            if (_ca is not null)
            {
                return _ca;
            }
            var dir = options.Value.LocalDirectory;
            var certPath = Path.Combine(dir, "ca.crt");
            var keyPath = Path.Combine(dir, "ca.key");
            if (!File.Exists(certPath) || !File.Exists(keyPath))
            {
                Directory.CreateDirectory(dir);
                using var created = CertificateFactory.CreateCertificateAuthority("IoTServerless Platform CA");
                CertificateFactory.WritePem(created, certPath, keyPath);
            }
            _ca = CertificateFactory.LoadPem(certPath, keyPath);
            return _ca;
        }
        finally
        {
            _lock.Release();
        }
    }
}

/// <summary>Builds an issued device certificate with a given signature generator (local key or Key Vault).</summary>
public static class DeviceCertificateIssuer
{
    public static X509Certificate2 Issue(X500DistinguishedName issuerName, X509Certificate2 issuer, X509SignatureGenerator generator, PublicKey subjectPublicKey, X500DistinguishedName subject, TimeSpan validity)
    {
        var request = new CertificateRequest(subject, subjectPublicKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(subjectPublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        var notBefore = DateTimeOffset.UtcNow.AddMinutes(-5);
        var notAfter = notBefore.Add(validity);
        if (notAfter > issuer.NotAfter)
        {
            notAfter = issuer.NotAfter;
        }
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        return request.Create(issuerName, generator, notBefore, notAfter, serial);
    }
}
