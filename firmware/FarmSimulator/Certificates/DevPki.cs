using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using IoTServerless.Core.Security;

namespace FarmSimulator.Certificates;

/// <summary>What <see cref="DevPki.Ensure"/> did, as paths relative to the PKI folder.</summary>
public sealed record DevPkiResult(IReadOnlyList<string> Created, IReadOnlyList<string> Kept, IReadOnlyList<string> Replaced);

/// <summary>
/// The local development PKI on disk:
/// <c>ca.crt</c>/<c>ca.key</c> (the dev CA), <c>server.crt</c>/<c>server.key</c> (CN localhost; SANs
/// localhost, 127.0.0.1, ::1) and <c>devices/{thing}.crt</c>/<c>.key</c>. Existing files are reused: an
/// existing CA is never overwritten (a half-present or unreadable CA is an error); a server or device
/// pair is only re-issued when missing, unreadable, expiring within a day or not issued by the CA.
/// </summary>
public static class DevPki
{
    public const string CaCommonName = "IoTServerless Dev CA";
    public const string CaCertificateFile = "ca.crt";
    public const string CaKeyFile = "ca.key";
    public const string ServerCertificateFile = "server.crt";
    public const string ServerKeyFile = "server.key";
    public const string DevicesFolder = "devices";

    public static string DeviceCertificatePath(string directory, string thing) => Path.Combine(directory, DevicesFolder, $"{thing}.crt");

    public static string DeviceKeyPath(string directory, string thing) => Path.Combine(directory, DevicesFolder, $"{thing}.key");

    public static DevPkiResult Ensure(string directory, IEnumerable<string> thingNames)
    {
        Directory.CreateDirectory(directory);
        var created = new List<string>();
        var kept = new List<string>();
        var replaced = new List<string>();

        using var ca = EnsureCa(directory, created, kept);
        EnsureLeaf(directory, ServerCertificateFile, ServerKeyFile, ca, created, kept, replaced,
            () => CertificateFactory.CreateServerCertificate(ca, "localhost", ["localhost"], [IPAddress.Loopback, IPAddress.IPv6Loopback]));
        foreach (var thing in thingNames)
        {
            var certificate = Path.Combine(DevicesFolder, $"{thing}.crt");
            var key = Path.Combine(DevicesFolder, $"{thing}.key");
            EnsureLeaf(directory, certificate, key, ca, created, kept, replaced, () => CertificateFactory.CreateDeviceCertificate(ca, thing));
        }
        return new DevPkiResult(created, kept, replaced);
    }

    static X509Certificate2 EnsureCa(string directory, List<string> created, List<string> kept)
    {
        var certificatePath = Path.Combine(directory, CaCertificateFile);
        var keyPath = Path.Combine(directory, CaKeyFile);
        var hasCertificate = File.Exists(certificatePath);
        var hasKey = File.Exists(keyPath);
        if (hasCertificate && hasKey)
        {
            try
            {
                var existing = CertificateFactory.LoadPem(certificatePath, keyPath);
                kept.Add(CaCertificateFile);
                kept.Add(CaKeyFile);
                return existing;
            }
            catch (CryptographicException ex)
            {
                throw new InvalidOperationException($"The CA in {directory} cannot be loaded ({ex.Message}); refusing to overwrite it. Move it away to create a new one.", ex);
            }
        }
        if (hasCertificate || hasKey)
        {
            throw new InvalidOperationException($"Only one of {CaCertificateFile} and {CaKeyFile} exists in {directory}; refusing to overwrite a CA. Move it away to create a new one.");
        }
        var ca = CertificateFactory.CreateCertificateAuthority(CaCommonName);
        CertificateFactory.WritePem(ca, certificatePath, keyPath);
        created.Add(CaCertificateFile);
        created.Add(CaKeyFile);
        return ca;
    }

    static void EnsureLeaf(string directory, string certificateFile, string keyFile, X509Certificate2 ca,
        List<string> created, List<string> kept, List<string> replaced, Func<X509Certificate2> issue)
    {
        var certificatePath = Path.Combine(directory, certificateFile);
        var keyPath = Path.Combine(directory, keyFile);
        var existed = File.Exists(certificatePath) || File.Exists(keyPath);
        if (File.Exists(certificatePath) && File.Exists(keyPath) && IsUsable(certificatePath, keyPath, ca))
        {
            kept.Add(certificateFile);
            kept.Add(keyFile);
            return;
        }
        using var certificate = issue();
        CertificateFactory.WritePem(certificate, certificatePath, keyPath);
        var list = existed ? replaced : created;
        list.Add(certificateFile);
        list.Add(keyFile);
    }

    /// <summary>Loadable with its key, valid for at least another day and issued by <paramref name="ca"/>.</summary>
    static bool IsUsable(string certificatePath, string keyPath, X509Certificate2 ca)
    {
        try
        {
            using var certificate = CertificateFactory.LoadPem(certificatePath, keyPath);
            if (certificate.NotAfter.ToUniversalTime() < DateTime.UtcNow.AddDays(1))
            {
                return false;
            }
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(certificate);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }
}
