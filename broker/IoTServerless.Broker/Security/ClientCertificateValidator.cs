using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;

namespace IoTServerless.Broker.Security;

/// <summary>
/// Accepts a device certificate during the TLS handshake if it is inside its validity period and,
/// when a CA bundle is configured, chains to one of its CAs. Registration status and policies are
/// checked on CONNECT.
/// </summary>
/// <remarks>
/// On the TLS listeners the handshake builds the device's chain once, with <see cref="HandshakeChainPolicy"/>
/// (only the configured CAs as roots), and <see cref="ValidateHandshake"/> reads its outcome. Left to
/// itself, SslStream builds the chain against the system's ~150 roots first (sorted and name-compared
/// in OpenSSL for every connection) and the validator then built it a second time: together the largest
/// CPU cost of a connect after the key exchange (README "Broker performance").
/// </remarks>
public sealed class ClientCertificateValidator
{
    /// <summary>TLS client authentication (id-kp-clientAuth): a device certificate with an extended key usage must allow it.</summary>
    static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    readonly X509ChainPolicy? _policy;
    readonly ILogger<ClientCertificateValidator> _logger;

    public ClientCertificateValidator(IOptions<BrokerOptions> options, ILogger<ClientCertificateValidator> logger)
    {
        _logger = logger;
        if (!string.IsNullOrEmpty(options.Value.Tls.ClientCaPath))
        {
            X509Certificate2Collection trusted = [];
            trusted.ImportFromPemFile(options.Value.Tls.ClientCaPath);
            if (trusted.Count == 0)
            {
                throw new InvalidOperationException("Broker:Tls:ClientCaPath holds no certificate.");
            }
            _policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
                VerificationTimeIgnored = true,
            };
            _policy.CustomTrustStore.AddRange(trusted);
            _policy.ApplicationPolicy.Add(ClientAuthentication); // on both paths, handshake and forwarded
        }
    }

    /// <summary>
    /// A fresh copy, for one handshake, of the policy the device's chain is built with: the configured
    /// CAs as the only roots, no revocation lookups. Null when no CA bundle is configured.
    /// </summary>
    public X509ChainPolicy? HandshakeChainPolicy() => _policy?.Clone();

    /// <summary>
    /// The server side of one MQTT/TLS handshake: TLS 1.2 or 1.3, a client certificate required, its
    /// chain built once with <see cref="HandshakeChainPolicy"/> and decided by <see cref="ValidateHandshake"/>.
    /// </summary>
    public SslServerAuthenticationOptions ServerAuthentication(SslStreamCertificateContext serverCertificate) => new()
    {
        ServerCertificateContext = serverCertificate,
        ClientCertificateRequired = true,
        CertificateChainPolicy = HandshakeChainPolicy(),
        RemoteCertificateValidationCallback = (_, certificate, chain, errors) => ValidateHandshake(certificate as X509Certificate2, chain, errors),
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
    };

    /// <summary>Decides a certificate from its chain, built with <see cref="HandshakeChainPolicy"/> (by the TLS handshake, or by <see cref="Validate"/>).</summary>
    public bool ValidateHandshake(X509Certificate2? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return false;
        }
        if (_policy is null)
        {
            return IsInValidityPeriod(certificate);
        }
        var ok = errors == SslPolicyErrors.None;
        if (!ok)
        {
            _logger.LogInformation("Refused client certificate {Subject}: {Errors} {Status}", certificate.Subject, errors,
                chain is null ? "" : string.Join(", ", chain.ChainStatus.Select(s => s.Status)));
        }
        return ok;
    }

    /// <summary>Decides a certificate that arrived without a handshake (forwarded by a TLS-terminating ingress): the same chain, built here.</summary>
    public bool Validate(X509Certificate2? certificate)
    {
        if (certificate is null || _policy is null)
        {
            return ValidateHandshake(certificate, null, SslPolicyErrors.None);
        }
        using var chain = new X509Chain { ChainPolicy = _policy.Clone() };
        return ValidateHandshake(certificate, chain, chain.Build(certificate) ? SslPolicyErrors.None : SslPolicyErrors.RemoteCertificateChainErrors);
    }

    static bool IsInValidityPeriod(X509Certificate2 certificate)
    {
        var now = DateTime.Now;
        return certificate.NotBefore <= now && now <= certificate.NotAfter;
    }
}
