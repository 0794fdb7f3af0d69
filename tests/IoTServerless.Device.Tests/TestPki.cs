using System.Net;
using System.Security.Cryptography.X509Certificates;
using IoTServerless.Core.Security;

namespace IoTServerless.Device.Tests;

/// <summary>A throw-away PKI on disk: a CA, a server certificate for localhost/127.0.0.1, one device certificate.</summary>
public sealed class TestPki : IDisposable
{
    public TestPki(string thingName = "device-001")
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("iot-device-tests-").FullName;
        ThingName = thingName;
        Ca = CertificateFactory.CreateCertificateAuthority("Test CA");
        CaPath = Path.Combine(Directory, "ca.crt");
        CertificateFactory.WritePem(Ca, CaPath, null);
        ServerCertificate = IssueServerCertificate(Ca, ["localhost"], [IPAddress.Loopback]);
        using var device = CertificateFactory.CreateDeviceCertificate(Ca, thingName);
        DeviceCertificatePath = Path.Combine(Directory, $"{thingName}.crt");
        DeviceKeyPath = Path.Combine(Directory, $"{thingName}.key");
        CertificateFactory.WritePem(device, DeviceCertificatePath, DeviceKeyPath);
    }

    public string Directory { get; }

    public string ThingName { get; }

    public X509Certificate2 Ca { get; }

    public string CaPath { get; }

    /// <summary>With its private key, loadable by SslStream.</summary>
    public X509Certificate2 ServerCertificate { get; }

    public string DeviceCertificatePath { get; }

    public string DeviceKeyPath { get; }

    public DeviceConnectionOptions DeviceOptions(int port, string host = "127.0.0.1") => new()
    {
        Host = host,
        Port = port,
        ClientId = ThingName,
        CertificatePath = DeviceCertificatePath,
        KeyPath = DeviceKeyPath,
        CaCertificatePath = CaPath,
        Timeout = TimeSpan.FromSeconds(5),
        ReconnectInitialDelay = TimeSpan.FromMilliseconds(100),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
    };

    /// <summary>A server certificate (with a usable private key) issued by <paramref name="ca"/>.</summary>
    public static X509Certificate2 IssueServerCertificate(X509Certificate2 ca, string[] dnsNames, IPAddress[] addresses)
    {
        using var certificate = CertificateFactory.CreateServerCertificate(ca, "localhost", dnsNames, addresses);
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }

    public void Dispose()
    {
        Ca.Dispose();
        ServerCertificate.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Temp files; nothing to do.
        }
    }
}
