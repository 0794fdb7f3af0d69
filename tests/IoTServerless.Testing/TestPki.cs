using System.Net;
using System.Security.Cryptography.X509Certificates;
using IoTServerless.Core.Security;

namespace IoTServerless.Testing;

/// <summary>
/// A throw-away PKI made with the platform's own certificate code: a CA, the broker's server
/// certificate (localhost, 127.0.0.1, ::1), device certificates, and a rogue CA nobody trusts.
/// PEM files are written to a temp folder for the broker's configuration.
/// </summary>
public sealed class TestPki : IDisposable
{
    public TestPki()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("iot-pki-").FullName;
        // Valid from a year back, so tests can issue certificates that have already expired.
        Ca = CertificateFactory.CreateCertificateAuthority("IoTServerless Test CA", notBefore: DateTimeOffset.UtcNow.AddDays(-365));
        RogueCa = CertificateFactory.CreateCertificateAuthority("Rogue CA");
        Server = CertificateFactory.CreateServerCertificate(Ca, "localhost", ["localhost"], [IPAddress.Loopback, IPAddress.IPv6Loopback]);
        CaPath = Path.Combine(Directory, "ca.crt");
        ServerCertificatePath = Path.Combine(Directory, "server.crt");
        ServerKeyPath = Path.Combine(Directory, "server.key");
        CertificateFactory.WritePem(Ca, CaPath, null);
        CertificateFactory.WritePem(Server, ServerCertificatePath, ServerKeyPath);
    }

    public string Directory { get; }
    public X509Certificate2 Ca { get; }
    public X509Certificate2 RogueCa { get; }
    public X509Certificate2 Server { get; }
    public string CaPath { get; }
    public string ServerCertificatePath { get; }
    public string ServerKeyPath { get; }

    /// <summary>A device certificate signed by the trusted CA, usable by SslStream.</summary>
    public X509Certificate2 Device(string commonName) => Usable(CertificateFactory.CreateDeviceCertificate(Ca, commonName));

    /// <summary>A device certificate and key written as PEM files (for mosquitto clients); returns their paths.</summary>
    public (string Certificate, string Key) DevicePem(string commonName)
    {
        var certificate = CertificateFactory.CreateDeviceCertificate(Ca, commonName);
        var paths = (Path.Combine(Directory, commonName + ".crt"), Path.Combine(Directory, commonName + ".key"));
        CertificateFactory.WritePem(certificate, paths.Item1, paths.Item2);
        return paths;
    }

    /// <summary>A device certificate signed by <paramref name="issuer"/> (a vendor's CA), usable by SslStream.</summary>
    public static X509Certificate2 DeviceOf(X509Certificate2 issuer, string commonName) => Usable(CertificateFactory.CreateDeviceCertificate(issuer, commonName));

    /// <summary>A device certificate signed by the rogue CA.</summary>
    public X509Certificate2 RogueDevice(string commonName) => Usable(CertificateFactory.CreateDeviceCertificate(RogueCa, commonName));

    /// <summary>A certificate from the trusted CA whose extended key usage allows server authentication only.</summary>
    public X509Certificate2 ServerOnlyDevice(string commonName)
        => Usable(CertificateFactory.CreateServerCertificate(Ca, commonName, [commonName], []));

    /// <summary>A device certificate whose validity ended yesterday.</summary>
    public X509Certificate2 ExpiredDevice(string commonName)
        => Usable(CertificateFactory.CreateDeviceCertificate(Ca, commonName, DateTimeOffset.UtcNow.AddDays(-30), TimeSpan.FromDays(29)));

    /// <summary>A device certificate whose validity starts tomorrow.</summary>
    public X509Certificate2 NotYetValidDevice(string commonName)
        => Usable(CertificateFactory.CreateDeviceCertificate(Ca, commonName, DateTimeOffset.UtcNow.AddDays(1), TimeSpan.FromDays(30)));

    static X509Certificate2 Usable(X509Certificate2 certificate)
        => X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
