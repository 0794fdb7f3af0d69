using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Azure;
using Azure.Security.KeyVault.Certificates;
using IoTServerless.Core.Security;
using IoTServerless.Core.Security.Certificates;
using Moq;

namespace IoTServerless.Core.Tests.Security.Certificates;

/// <summary>
/// The Key Vault CA with Key Vault mocked the Azure SDK way (Moq on the client's virtual methods,
/// models from CertificateModelFactory). The "vault's" key signs in the mock; the CA process only
/// ever holds the public certificate.
/// </summary>
public sealed class KeyVaultCertificateAuthorityTests
{
    [Fact]
    public async Task Issue_signsInTheVault_andTheCertificateChainsToTheVaultCa()
    {
        using var vaultCa = CertificateFactory.CreateCertificateAuthority("Key Vault Platform CA");
        using var vaultKey = vaultCa.GetECDsaPrivateKey()!;
        var keyId = new Uri("https://farm.vault.azure.net/keys/platform-ca/0123456789abcdef");
        var kvCertificate = CertificateModelFactory.KeyVaultCertificateWithPolicy(
            CertificateModelFactory.CertificateProperties(new Uri("https://farm.vault.azure.net/certificates/platform-ca/0123456789abcdef"), "platform-ca"),
            keyId: keyId, cer: vaultCa.RawData);
        var certificates = new Mock<CertificateClient>();
        certificates.Setup(c => c.GetCertificateAsync("platform-ca", It.IsAny<CancellationToken>()))
            .ReturnsAsync(Response.FromValue(kvCertificate, Mock.Of<Response>()));
        var signer = new Mock<KeyVaultKeySigner>();
        byte[]? signedDigest = null;
        signer.Setup(s => s.SignDigest(keyId, "ES256", It.IsAny<byte[]>(), It.IsAny<CancellationToken>()))
            .Returns<Uri, string, byte[], CancellationToken>((_, _, digest, _) =>
            {
                signedDigest = digest;
                return vaultKey.SignHash(digest); // IEEE P1363, as Key Vault returns it
            });
        var authority = new KeyVaultCertificateAuthority(certificates.Object, signer.Object, new CertificateAuthorityOptions());
        using var deviceKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        using var issued = await authority.IssueAsync(new PublicKey(deviceKey), new X500DistinguishedName("CN=pump-007"), CancellationToken.None);

        Assert.Equal(32, signedDigest!.Length);
        signer.Verify(s => s.SignDigest(keyId, "ES256", It.IsAny<byte[]>(), It.IsAny<CancellationToken>()), Times.Once);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(X509CertificateLoader.LoadCertificate(vaultCa.RawData));
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.True(chain.Build(issued), string.Join(", ", chain.ChainStatus.Select(s => s.StatusInformation)));
        Assert.Equal("CN=pump-007", issued.Subject);
        Assert.False((await authority.GetCertificateAsync(CancellationToken.None)).HasPrivateKey);
    }

    [Fact]
    public async Task Issue_whenTheVaultRefusesToSign_fails()
    {
        using var vaultCa = CertificateFactory.CreateCertificateAuthority("Key Vault Platform CA");
        var kvCertificate = CertificateModelFactory.KeyVaultCertificateWithPolicy(
            CertificateModelFactory.CertificateProperties(new Uri("https://farm.vault.azure.net/certificates/platform-ca/1"), "platform-ca"),
            keyId: new Uri("https://farm.vault.azure.net/keys/platform-ca/1"), cer: vaultCa.RawData);
        var certificates = new Mock<CertificateClient>();
        certificates.Setup(c => c.GetCertificateAsync("platform-ca", It.IsAny<CancellationToken>()))
            .ReturnsAsync(Response.FromValue(kvCertificate, Mock.Of<Response>()));
        var signer = new Mock<KeyVaultKeySigner>();
        signer.Setup(s => s.SignDigest(It.IsAny<Uri>(), It.IsAny<string>(), It.IsAny<byte[]>(), It.IsAny<CancellationToken>()))
            .Throws(new RequestFailedException(403, "Forbidden"));
        var authority = new KeyVaultCertificateAuthority(certificates.Object, signer.Object, new CertificateAuthorityOptions());
        using var deviceKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => authority.IssueAsync(new PublicKey(deviceKey), new X500DistinguishedName("CN=x"), CancellationToken.None));
        Assert.Contains("Forbidden", ex.ToString(), StringComparison.Ordinal);
    }
}
