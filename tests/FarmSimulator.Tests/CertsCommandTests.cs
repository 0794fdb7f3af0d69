using System.Net;
using System.Security.Cryptography.X509Certificates;
using FarmSimulator.Certificates;
using FarmSimulator.Cli;
using IoTServerless.Core.Security;

namespace FarmSimulator.Tests;

public sealed class CertsCommandTests : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("farm-certs-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Execute_empty_folder_creates_ca_server_and_device_certificates()
    {
        var output = new StringWriter();
        var result = CertsCommand.Parse(["--out", _directory, "--sensors", "3", "--pumps", "2"]).Execute(output);

        string[] devices = ["soil-001", "soil-002", "soil-003", "pump-001", "pump-002"];
        Assert.Equal(4 + (2 * devices.Length), result.Created.Count);
        Assert.Empty(result.Kept);
        using var ca = CertificateFactory.LoadPem(Path(DevPki.CaCertificateFile), Path(DevPki.CaKeyFile));
        Assert.Equal("CN=" + DevPki.CaCommonName, ca.Subject);
        using var server = CertificateFactory.LoadPem(Path("server.crt"), Path("server.key"));
        Assert.Equal("CN=localhost", server.Subject);
        Assert.True(ChainsTo(server, ca));
        var san = server.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal(["localhost"], san.EnumerateDnsNames());
        Assert.Equal([IPAddress.Loopback, IPAddress.IPv6Loopback], san.EnumerateIPAddresses());
        foreach (var thing in devices)
        {
            using var device = CertificateFactory.LoadPem(Path($"devices/{thing}.crt"), Path($"devices/{thing}.key"));
            Assert.Equal($"CN={thing}", device.Subject);
            Assert.True(ChainsTo(device, ca));
            Assert.Contains($"devices/{thing}.crt", output.ToString());
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path($"devices/{thing}.key")));
            }
        }
        Assert.Equal(["ca.crt", "ca.key", "server.crt", "server.key"], Directory.GetFiles(_directory).Select(System.IO.Path.GetFileName).Order());
        Assert.Equal(2 * devices.Length, Directory.GetFiles(Path("devices")).Length);
    }

    [Fact]
    public void Execute_second_run_keeps_everything_and_adds_new_devices()
    {
        CertsCommand.Parse(["--out", _directory, "--sensors", "2", "--pumps", "1"]).Execute(TextWriter.Null);
        var caBefore = File.ReadAllBytes(Path("ca.crt"));
        var deviceBefore = File.ReadAllBytes(Path("devices/soil-001.crt"));

        var result = CertsCommand.Parse(["--out", _directory, "--sensors", "3", "--pumps", "1"]).Execute(TextWriter.Null);

        Assert.Equal(["devices/soil-003.crt", "devices/soil-003.key"], result.Created.Select(Normalize));
        Assert.Empty(result.Replaced);
        Assert.Contains("ca.key", result.Kept);
        Assert.Equal(caBefore, File.ReadAllBytes(Path("ca.crt")));
        Assert.Equal(deviceBefore, File.ReadAllBytes(Path("devices/soil-001.crt")));
    }

    [Fact]
    public void Execute_existing_ca_is_not_overwritten_and_signs_the_new_certificates()
    {
        using var existing = CertificateFactory.CreateCertificateAuthority("My Own CA");
        CertificateFactory.WritePem(existing, Path("ca.crt"), Path("ca.key"));
        var caBefore = File.ReadAllBytes(Path("ca.crt"));
        var keyBefore = File.ReadAllBytes(Path("ca.key"));

        var result = CertsCommand.Parse(["--out", _directory, "--sensors", "1", "--pumps", "1"]).Execute(TextWriter.Null);

        Assert.DoesNotContain("ca.crt", result.Created);
        Assert.Equal(caBefore, File.ReadAllBytes(Path("ca.crt")));
        Assert.Equal(keyBefore, File.ReadAllBytes(Path("ca.key")));
        using var device = CertificateFactory.LoadPem(Path("devices/pump-001.crt"), Path("devices/pump-001.key"));
        Assert.Equal("CN=My Own CA", device.Issuer);
        Assert.True(ChainsTo(device, existing));
    }

    [Fact]
    public void Execute_half_present_ca_fails_without_touching_it()
    {
        using var existing = CertificateFactory.CreateCertificateAuthority("Orphan CA");
        CertificateFactory.WritePem(existing, Path("ca.crt"), null);
        var before = File.ReadAllBytes(Path("ca.crt"));

        Assert.Throws<InvalidOperationException>(() => CertsCommand.Parse(["--out", _directory]).Execute(TextWriter.Null));

        Assert.Equal(before, File.ReadAllBytes(Path("ca.crt")));
        Assert.False(File.Exists(Path("ca.key")));
        Assert.False(File.Exists(Path("server.crt")));
    }

    [Fact]
    public void Execute_device_certificate_from_another_ca_is_replaced()
    {
        CertsCommand.Parse(["--out", _directory, "--sensors", "1", "--pumps", "0"]).Execute(TextWriter.Null);
        using var stranger = CertificateFactory.CreateCertificateAuthority("Stranger CA");
        using var foreign = CertificateFactory.CreateDeviceCertificate(stranger, "soil-001");
        CertificateFactory.WritePem(foreign, Path("devices/soil-001.crt"), Path("devices/soil-001.key"));

        var result = CertsCommand.Parse(["--out", _directory, "--sensors", "1", "--pumps", "0"]).Execute(TextWriter.Null);

        Assert.Equal(["devices/soil-001.crt", "devices/soil-001.key"], result.Replaced.Select(Normalize));
        using var ca = CertificateFactory.LoadPem(Path("ca.crt"), Path("ca.key"));
        using var device = CertificateFactory.LoadPem(Path("devices/soil-001.crt"), Path("devices/soil-001.key"));
        Assert.True(ChainsTo(device, ca));
    }

    [Fact]
    public void Parse_without_out_is_a_usage_error()
    {
        Assert.Throws<CommandLineException>(() => CertsCommand.Parse(["--sensors", "2"]));
    }

    string Path(string relative) => System.IO.Path.Combine(_directory, relative);

    static string Normalize(string path) => path.Replace('\\', '/');

    static bool ChainsTo(X509Certificate2 leaf, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf);
    }
}
