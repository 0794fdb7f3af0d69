using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Formatter;

namespace IoTServerless.Testing;

/// <summary>Real MQTTnet clients over TLS with a device certificate, trusting only the test CA.</summary>
public static class TestMqtt
{
    public static MqttClientOptions Options(string clientId, int port, X509Certificate2? certificate, X509Certificate2 trustedCa, MqttProtocolVersion version = MqttProtocolVersion.V311, bool cleanSession = true)
        => new MqttClientOptionsBuilder()
            .WithClientId(clientId)
            .WithTcpServer("127.0.0.1", port)
            .WithProtocolVersion(version)
            .WithCleanSession(cleanSession)
            .WithTimeout(TimeSpan.FromSeconds(30))
            .WithTlsOptions(tls =>
            {
                tls.UseTls()
                    .WithTargetHost("localhost")
                    .WithSslProtocols(SslProtocols.Tls12 | SslProtocols.Tls13)
                    .WithCertificateValidationHandler(args => ValidateServer(args.Certificate, trustedCa));
                if (certificate is not null)
                {
                    tls.WithClientCertificates([certificate]);
                }
            })
            .Build();

    public static async Task<IMqttClient> ConnectAsync(string clientId, int port, X509Certificate2 certificate, X509Certificate2 trustedCa, CancellationToken cancellationToken = default)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(Options(clientId, port, certificate, trustedCa), cancellationToken);
        return client;
    }

    static bool ValidateServer(X509Certificate? certificate, X509Certificate2 trustedCa)
    {
        if (certificate is null)
        {
            return false;
        }
        using var cert = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(trustedCa);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(cert);
    }
}
