using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using IoTServerless.Core.Security;

namespace IoTServerless.Core.Tests.Security;

public sealed class CertificateFactoryTests : IDisposable
{
    const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    const string ClientAuth = "1.3.6.1.5.5.7.3.2";

    readonly X509Certificate2 _ca = CertificateFactory.CreateCertificateAuthority("IoTServerless Test CA");
    readonly string _directory = Directory.CreateTempSubdirectory("certfactory-").FullName;

    public void Dispose()
    {
        _ca.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    static T Extension<T>(X509Certificate2 certificate) where T : X509Extension
        => Assert.Single(certificate.Extensions.OfType<T>());

    static string[] Ekus(X509Certificate2 certificate)
        => [.. Extension<X509EnhancedKeyUsageExtension>(certificate).EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value!)];

    /// <summary>Builds the chain against only <paramref name="root"/> as the trust anchor.</summary>
    static (bool Ok, X509ChainStatusFlags Status, int Length) Chain(X509Certificate2 leaf, X509Certificate2 root, string? requiredEku = null)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        if (requiredEku is not null)
        {
            chain.ChainPolicy.ApplicationPolicy.Add(new Oid(requiredEku));
        }
        var ok = chain.Build(leaf);
        var status = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (acc, s) => acc | s.Status);
        return (ok, status, chain.ChainElements.Count);
    }

    [Fact]
    public void CreateCertificateAuthority_isSelfSignedCaWithCertSignKeyUsage()
    {
        Assert.Equal("CN=IoTServerless Test CA", _ca.Subject);
        Assert.Equal(_ca.Subject, _ca.Issuer);
        Assert.True(_ca.HasPrivateKey);
        Assert.NotNull(_ca.GetECDsaPublicKey());

        var constraints = Extension<X509BasicConstraintsExtension>(_ca);
        Assert.True(constraints.CertificateAuthority);
        Assert.True(constraints.Critical);

        var usage = Extension<X509KeyUsageExtension>(_ca);
        Assert.True(usage.Critical);
        Assert.True(usage.KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign));
        Assert.True(usage.KeyUsages.HasFlag(X509KeyUsageFlags.CrlSign));

        Assert.InRange(_ca.NotBefore.ToUniversalTime(), DateTime.UtcNow.AddMinutes(-10), DateTime.UtcNow);
        Assert.True(_ca.NotAfter.ToUniversalTime() > DateTime.UtcNow.AddYears(5));

        var (ok, status, _) = Chain(_ca, _ca);
        Assert.True(ok, status.ToString());
    }

    [Fact]
    public void CreateCertificateAuthority_lifetime_isHonoured()
    {
        using var ca = CertificateFactory.CreateCertificateAuthority("Short CA", TimeSpan.FromDays(2));
        Assert.InRange(ca.NotAfter.ToUniversalTime(), DateTime.UtcNow.AddDays(2).AddMinutes(-1), DateTime.UtcNow.AddDays(2).AddMinutes(1));
    }

    [Fact]
    public void CreateServerCertificate_hasSansServerAuthAndChainsToCa()
    {
        using var server = CertificateFactory.CreateServerCertificate(_ca, "broker", ["localhost", "broker.example.com"], [IPAddress.Loopback, IPAddress.IPv6Loopback]);

        Assert.Equal("CN=broker", server.Subject);
        Assert.Equal(_ca.Subject, server.Issuer);
        Assert.True(server.HasPrivateKey);
        var san = Extension<X509SubjectAlternativeNameExtension>(server);
        Assert.Equal(["localhost", "broker.example.com"], san.EnumerateDnsNames());
        Assert.Equal([IPAddress.Loopback, IPAddress.IPv6Loopback], san.EnumerateIPAddresses());
        Assert.Equal([ServerAuth], Ekus(server));
        Assert.False(Extension<X509BasicConstraintsExtension>(server).CertificateAuthority);
        Assert.True(Extension<X509KeyUsageExtension>(server).KeyUsages.HasFlag(X509KeyUsageFlags.DigitalSignature));
        Assert.True(server.MatchesHostname("broker.example.com"));
        Assert.True(server.MatchesHostname("127.0.0.1"));
        Assert.False(server.MatchesHostname("other.example.com"));

        var (ok, status, length) = Chain(server, _ca, ServerAuth);
        Assert.True(ok, status.ToString());
        Assert.Equal(2, length);
        Assert.False(Chain(server, _ca, ClientAuth).Ok);
    }

    [Fact]
    public void CreateServerCertificate_authorityKeyIdentifier_isTheCasSubjectKeyIdentifier()
    {
        using var server = CertificateFactory.CreateServerCertificate(_ca, "broker", ["localhost"], []);

        var aki = Extension<X509AuthorityKeyIdentifierExtension>(server);
        var ski = Extension<X509SubjectKeyIdentifierExtension>(_ca);
        Assert.Equal(Convert.FromHexString(ski.SubjectKeyIdentifier!), aki.KeyIdentifier!.Value.ToArray());
    }

    [Fact]
    public void CreateDeviceCertificate_hasClientAuthAndChainsToCa()
    {
        using var device = CertificateFactory.CreateDeviceCertificate(_ca, "pump-1");

        Assert.Equal("CN=pump-1", device.Subject);
        Assert.True(device.HasPrivateKey);
        Assert.Equal([ClientAuth], Ekus(device));
        Assert.False(Extension<X509BasicConstraintsExtension>(device).CertificateAuthority);
        Assert.Empty(device.Extensions.OfType<X509SubjectAlternativeNameExtension>());

        var (ok, status, length) = Chain(device, _ca, ClientAuth);
        Assert.True(ok, status.ToString());
        Assert.Equal(2, length);
        Assert.False(Chain(device, _ca, ServerAuth).Ok);
    }

    [Fact]
    public void CreateDeviceCertificate_otherCa_doesNotChain()
    {
        using var otherCa = CertificateFactory.CreateCertificateAuthority("IoTServerless Test CA");
        using var device = CertificateFactory.CreateDeviceCertificate(otherCa, "pump-1");

        var (ok, status, _) = Chain(device, _ca, ClientAuth);
        Assert.False(ok);
        Assert.NotEqual(X509ChainStatusFlags.NoError, status);
    }

    [Fact]
    public void CreateDeviceCertificate_serials_areUniqueAndPositive()
    {
        var serials = Enumerable.Range(0, 20).Select(_ =>
        {
            using var device = CertificateFactory.CreateDeviceCertificate(_ca, "pump");
            var serial = device.SerialNumberBytes.ToArray(); // big-endian
            Assert.True(serial[0] < 0x80, "serial must be a positive INTEGER");
            return device.SerialNumber;
        }).ToList();
        Assert.Equal(serials.Count, serials.Distinct().Count());
    }

    [Fact]
    public void CreateDeviceCertificate_lifetimeBeyondCa_isClampedToCaNotAfter()
    {
        using var shortCa = CertificateFactory.CreateCertificateAuthority("Short CA", TimeSpan.FromDays(30));

        using var byDefault = CertificateFactory.CreateDeviceCertificate(shortCa, "pump-1");
        using var explicitLong = CertificateFactory.CreateDeviceCertificate(shortCa, "pump-2", lifetime: TimeSpan.FromDays(365));
        using var server = CertificateFactory.CreateServerCertificate(shortCa, "broker", ["localhost"], []);

        Assert.Equal(shortCa.NotAfter, byDefault.NotAfter);
        Assert.Equal(shortCa.NotAfter, explicitLong.NotAfter);
        Assert.Equal(shortCa.NotAfter, server.NotAfter);
        Assert.True(Chain(byDefault, shortCa, ClientAuth).Ok);
    }

    [Fact]
    public void CreateDeviceCertificate_lifetimeWithinCa_isKept()
    {
        var notBefore = DateTimeOffset.UtcNow.AddMinutes(1);
        using var device = CertificateFactory.CreateDeviceCertificate(_ca, "pump-1", notBefore, TimeSpan.FromDays(10));

        Assert.Equal(notBefore.AddDays(10).UtcDateTime, device.NotAfter.ToUniversalTime(), TimeSpan.FromSeconds(1));
        Assert.Equal(notBefore.UtcDateTime, device.NotBefore.ToUniversalTime(), TimeSpan.FromSeconds(1));
        Assert.True(device.NotAfter <= _ca.NotAfter);
    }

    [Fact]
    public void GetCertificateId_isLowercaseHexSha256OfDer()
    {
        using var device = CertificateFactory.CreateDeviceCertificate(_ca, "pump-1");

        var id = CertificateFactory.GetCertificateId(device);

        Assert.Matches("^[0-9a-f]{64}$", id);
        Assert.Equal(device.GetCertHashString(HashAlgorithmName.SHA256).ToLowerInvariant(), id);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(device.Export(X509ContentType.Cert))), id);
        Assert.NotEqual(id, CertificateFactory.GetCertificateId(_ca));
    }

    [Fact]
    public void GetCertificateId_sameCertificateReloaded_isStable()
    {
        using var device = CertificateFactory.CreateDeviceCertificate(_ca, "pump-1");
        using var publicOnly = X509CertificateLoader.LoadCertificate(device.RawData);

        Assert.Equal(CertificateFactory.GetCertificateId(device), CertificateFactory.GetCertificateId(publicOnly));
    }

    [Fact]
    public void WritePemLoadPem_roundTrip_keepsCertificateAndUsableKey()
    {
        using var device = CertificateFactory.CreateDeviceCertificate(_ca, "pump-1");
        var certPath = Path.Combine(_directory, "nested", "pump-1.cert.pem");
        var keyPath = Path.Combine(_directory, "nested", "pump-1.private.key");

        CertificateFactory.WritePem(device, certPath, keyPath);
        using var loaded = CertificateFactory.LoadPem(certPath, keyPath);

        Assert.StartsWith("-----BEGIN CERTIFICATE-----", File.ReadAllText(certPath));
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(keyPath));
        Assert.Equal(device.RawData, loaded.RawData);
        Assert.Equal(CertificateFactory.GetCertificateId(device), CertificateFactory.GetCertificateId(loaded));
        Assert.True(loaded.HasPrivateKey);
        var data = Encoding.UTF8.GetBytes("sign me");
        using var loadedKey = loaded.GetECDsaPrivateKey()!;
        using var publicKey = device.GetECDsaPublicKey()!;
        Assert.True(publicKey.VerifyData(data, loadedKey.SignData(data, HashAlgorithmName.SHA256), HashAlgorithmName.SHA256));
        Assert.True(Chain(loaded, _ca, ClientAuth).Ok);
    }

    [Fact]
    public void WritePem_keyFile_isMode600OnUnix()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // Unix file modes only.
        }
        using var device = CertificateFactory.CreateDeviceCertificate(_ca, "pump-1");
        var certPath = Path.Combine(_directory, "pump-1.cert.pem");
        var keyPath = Path.Combine(_directory, "pump-1.private.key");
        // A key file left world-readable by an earlier run is tightened too.
        File.WriteAllText(keyPath, "old");
        File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        CertificateFactory.WritePem(device, certPath, keyPath);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyPath));
        Assert.DoesNotContain("old", File.ReadAllText(keyPath));
    }

    [Fact]
    public void WritePem_withoutKeyPath_writesOnlyTheCertificate()
    {
        using var device = CertificateFactory.CreateDeviceCertificate(_ca, "pump-1");
        var certPath = Path.Combine(_directory, "only.cert.pem");

        CertificateFactory.WritePem(device, certPath, null);

        Assert.Equal([certPath], Directory.GetFiles(_directory));
        using var reloaded = X509Certificate2.CreateFromPem(File.ReadAllText(certPath));
        Assert.Equal(device.RawData, reloaded.RawData);
        Assert.False(reloaded.HasPrivateKey);
    }

    [Fact]
    public void WritePem_certificateWithoutPrivateKey_throwsForTheKey()
    {
        using var publicOnly = X509CertificateLoader.LoadCertificate(_ca.RawData);

        Assert.Throws<InvalidOperationException>(() => CertificateFactory.WritePem(publicOnly, Path.Combine(_directory, "ca.pem"), Path.Combine(_directory, "ca.key")));
        Assert.False(File.Exists(Path.Combine(_directory, "ca.key")));
    }
}
