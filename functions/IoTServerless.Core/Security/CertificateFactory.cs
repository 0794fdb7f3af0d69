using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace IoTServerless.Core.Security;

/// <summary>
/// Creates ECDSA P-256 certificates: a self-signed CA, TLS server certificates and device (client)
/// certificates signed by a CA. Used for the local dev PKI and by tests; issue-time signing in the
/// platform goes through the same code.
/// </summary>
public static class CertificateFactory
{
    public static X509Certificate2 CreateCertificateAuthority(string commonName, TimeSpan? lifetime = null, DateTimeOffset? notBefore = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={commonName}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        // Valid from a little before now (clock skew), for `lifetime` from now — or from an explicit notBefore.
        var now = DateTimeOffset.UtcNow;
        var start = notBefore ?? now.AddMinutes(-5);
        return request.CreateSelfSigned(start, (notBefore ?? now).Add(lifetime ?? TimeSpan.FromDays(3650)));
    }

    /// <summary>A TLS server certificate whose SANs are the given DNS names and IP addresses.</summary>
    public static X509Certificate2 CreateServerCertificate(X509Certificate2 issuer, string commonName, IEnumerable<string> dnsNames, IEnumerable<IPAddress> ipAddresses, TimeSpan? lifetime = null)
    {
        var san = new SubjectAlternativeNameBuilder();
        foreach (var dns in dnsNames)
        {
            san.AddDnsName(dns);
        }
        foreach (var ip in ipAddresses)
        {
            san.AddIpAddress(ip);
        }
        return Issue(issuer, new X500DistinguishedName($"CN={commonName}"), "1.3.6.1.5.5.7.3.1", san.Build(), DateTimeOffset.UtcNow.AddMinutes(-5), lifetime ?? TimeSpan.FromDays(825));
    }

    /// <summary>A device (TLS client) certificate.</summary>
    public static X509Certificate2 CreateDeviceCertificate(X509Certificate2 issuer, string commonName, DateTimeOffset? notBefore = null, TimeSpan? lifetime = null)
        => Issue(issuer, new X500DistinguishedName($"CN={commonName}"), "1.3.6.1.5.5.7.3.2", null, notBefore ?? DateTimeOffset.UtcNow.AddMinutes(-5), lifetime ?? TimeSpan.FromDays(3650));

    static X509Certificate2 Issue(X509Certificate2 issuer, X500DistinguishedName subject, string extendedKeyUsageOid, X509Extension? san, DateTimeOffset notBefore, TimeSpan lifetime)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(extendedKeyUsageOid)], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        if (san is not null)
        {
            request.CertificateExtensions.Add(san);
        }
        var notAfter = notBefore.Add(lifetime);
        if (notAfter > issuer.NotAfter)
        {
            notAfter = issuer.NotAfter;
        }
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // positive
        using var signed = request.Create(issuer, notBefore, notAfter, serial);
        return signed.CopyWithPrivateKey(key);
    }

    /// <summary>Writes the certificate (PEM) and, when present, its private key (PKCS#8 PEM, mode 600).</summary>
    public static void WritePem(X509Certificate2 certificate, string certificatePath, string? keyPath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(certificatePath))!);
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem() + "\n");
        if (keyPath is null)
        {
            return;
        }
        using var key = certificate.GetECDsaPrivateKey() ?? throw new InvalidOperationException("The certificate has no ECDSA private key.");
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite; // never readable by others, not even briefly
            if (File.Exists(keyPath))
            {
                File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }
        using var writer = new StreamWriter(keyPath, options);
        writer.Write(key.ExportPkcs8PrivateKeyPem() + "\n");
    }

    /// <summary>Loads a PEM certificate with its PEM private key in a form SslStream can use on every OS.</summary>
    public static X509Certificate2 LoadPem(string certificatePath, string keyPath)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        // Round-trip through PKCS#12 so the key is usable by SChannel too (ephemeral keys are not).
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>
    /// The certificate id as AWS IoT Core computes it: the lower-case hex SHA-256 of the DER encoding.
    /// </summary>
    public static string GetCertificateId(X509Certificate2 certificate)
    {
        // RawDataMemory: the DER as the certificate holds it (RawData copies it on every call).
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(certificate.RawDataMemory.Span, hash);
        return Convert.ToHexStringLower(hash);
    }
}
