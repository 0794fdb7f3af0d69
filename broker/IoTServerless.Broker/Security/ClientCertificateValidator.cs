using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;

namespace IoTServerless.Broker.Security;

/// <summary>
/// Accepts a device certificate during the TLS handshake if it is inside its validity period and,
/// when a CA bundle is configured, chains to one of its CAs. Registration status and policies are
/// checked on CONNECT.
/// </summary>
public sealed class ClientCertificateValidator
{
    readonly X509Certificate2Collection _trusted;
    readonly ILogger<ClientCertificateValidator> _logger;

    public ClientCertificateValidator(IOptions<BrokerOptions> options, ILogger<ClientCertificateValidator> logger)
    {
        _logger = logger;
        _trusted = [];
        if (!string.IsNullOrEmpty(options.Value.Tls.ClientCaPath))
        {
            _trusted.ImportFromPemFile(options.Value.Tls.ClientCaPath);
            if (_trusted.Count == 0)
            {
                throw new InvalidOperationException("Broker:Tls:ClientCaPath holds no certificate.");
            }
        }
    }

    public bool Validate(X509Certificate2? certificate)
    {
        if (certificate is null)
        {
            return false;
        }
        if (_trusted.Count == 0)
        {
            var now = DateTime.Now;
            return certificate.NotBefore <= now && now <= certificate.NotAfter;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_trusted);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = DateTime.Now;
        var ok = chain.Build(certificate);
        if (!ok)
        {
            _logger.LogInformation("Refused client certificate {Subject}: {Status}", certificate.Subject,
                string.Join(", ", chain.ChainStatus.Select(s => s.Status)));
        }
        return ok;
    }
}
