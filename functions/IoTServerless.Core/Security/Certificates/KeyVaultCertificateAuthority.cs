using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Azure.Security.KeyVault.Certificates;

namespace IoTServerless.Core.Security.Certificates;

/// <summary>
/// The platform CA in Azure Key Vault: the CA certificate is a Key Vault certificate (EC P-256) and
/// every signature is made by Key Vault's <c>sign</c> operation, so the private key never leaves the vault.
/// </summary>
public sealed class KeyVaultCertificateAuthority(CertificateClient certificates, KeyVaultKeySigner signer, CertificateAuthorityOptions options) : ICertificateAuthority
{
    public static KeyVaultCertificateAuthority Create(CertificateAuthorityOptions options)
    {
        var vault = options.KeyVaultUri ?? throw new InvalidOperationException("CertificateAuthority:KeyVaultUri is required for the KeyVault CA.");
        var credential = new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = string.IsNullOrEmpty(options.ManagedIdentityClientId) ? null : options.ManagedIdentityClientId });
        return new KeyVaultCertificateAuthority(new CertificateClient(vault, credential), new KeyVaultKeySigner(credential), options);
    }

    public async Task<X509Certificate2> GetCertificateAsync(CancellationToken cancellationToken)
    {
        var response = await certificates.GetCertificateAsync(options.KeyVaultCertificateName, cancellationToken);
        return X509CertificateLoader.LoadCertificate(response.Value.Cer);
    }

    public async Task<X509Certificate2> IssueAsync(PublicKey subjectPublicKey, X500DistinguishedName subject, CancellationToken cancellationToken)
    {
        var response = await certificates.GetCertificateAsync(options.KeyVaultCertificateName, cancellationToken);
        using var ca = X509CertificateLoader.LoadCertificate(response.Value.Cer);
        using var caKey = ca.GetECDsaPublicKey() ?? throw new InvalidOperationException("The Key Vault CA certificate must have an EC P-256 key.");
        var generator = new KeyVaultSignatureGenerator(X509SignatureGenerator.CreateForECDsa(caKey), signer, response.Value.KeyId, cancellationToken);
        // X509SignatureGenerator is synchronous: run the build (one Key Vault call) off the caller's thread.
        return await Task.Run(() => DeviceCertificateIssuer.Issue(ca.SubjectName, ca, generator, subjectPublicKey, subject, TimeSpan.FromDays(options.DeviceCertificateValidityDays)), cancellationToken);
    }

    /// <summary>Signs the TBS certificate with Key Vault (ES256) and returns the DER ECDSA signature X.509 wants.</summary>
    sealed class KeyVaultSignatureGenerator(X509SignatureGenerator publicPart, KeyVaultKeySigner signer, Uri keyId, CancellationToken cancellationToken) : X509SignatureGenerator
    {
        public override byte[] GetSignatureAlgorithmIdentifier(HashAlgorithmName hashAlgorithm) => publicPart.GetSignatureAlgorithmIdentifier(hashAlgorithm);

        protected override PublicKey BuildPublicKey() => publicPart.PublicKey;

        public override byte[] SignData(byte[] data, HashAlgorithmName hashAlgorithm)
        {
            if (hashAlgorithm != HashAlgorithmName.SHA256)
            {
                throw new NotSupportedException("The Key Vault CA signs with ES256 (SHA-256).");
            }
            var p1363 = signer.SignDigest(keyId, "ES256", SHA256.HashData(data), cancellationToken);
            return ToDer(p1363);
        }

        /// <summary>IEEE P1363 (r‖s) → DER SEQUENCE { INTEGER r, INTEGER s }.</summary>
        static byte[] ToDer(byte[] p1363)
        {
            var half = p1363.Length / 2;
            var writer = new AsnWriter(AsnEncodingRules.DER);
            using (writer.PushSequence())
            {
                writer.WriteIntegerUnsigned(p1363.AsSpan(0, half));
                writer.WriteIntegerUnsigned(p1363.AsSpan(half));
            }
            return writer.Encode();
        }
    }
}

/// <summary>
/// Key Vault's key <c>sign</c> operation (REST, Azure.Core pipeline with a bearer token). Virtual so
/// tests can mock it as the Azure SDK mocking guide shows for SDK clients.
/// </summary>
public class KeyVaultKeySigner
{
    const string ApiVersion = "7.4";
    readonly HttpPipeline? _pipeline;

    protected KeyVaultKeySigner()
    {
    }

    public KeyVaultKeySigner(TokenCredential credential)
        => _pipeline = HttpPipelineBuilder.Build(new SignerClientOptions(), new BearerTokenAuthenticationPolicy(credential, "https://vault.azure.net/.default"));

    /// <summary>Signs a digest with the key <paramref name="keyId"/>; returns the raw (P1363) signature.</summary>
    public virtual byte[] SignDigest(Uri keyId, string algorithm, byte[] digest, CancellationToken cancellationToken)
    {
        using var message = _pipeline!.CreateMessage();
        message.Request.Method = RequestMethod.Post;
        message.Request.Uri.Reset(new Uri(keyId.ToString().TrimEnd('/') + "/sign?api-version=" + ApiVersion));
        message.Request.Headers.Add("Content-Type", "application/json");
        message.Request.Content = RequestContent.Create(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string>
        {
            ["alg"] = algorithm,
            ["value"] = System.Buffers.Text.Base64Url.EncodeToString(digest),
        }));
        _pipeline.Send(message, cancellationToken);
        if (message.Response.IsError)
        {
            throw new Azure.RequestFailedException(message.Response);
        }
        using var json = JsonDocument.Parse(message.Response.Content);
        return System.Buffers.Text.Base64Url.DecodeFromChars(json.RootElement.GetProperty("value").GetString());
    }

    sealed class SignerClientOptions : ClientOptions;
}
