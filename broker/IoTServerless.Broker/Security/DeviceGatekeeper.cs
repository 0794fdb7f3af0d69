using System.Security.Cryptography.X509Certificates;
using IoTServerless.Core.Security;
using IoTServerless.Core.Security.Policies;
using Microsoft.Extensions.Options;

namespace IoTServerless.Broker.Security;

/// <summary>
/// Admits connections and checks each publish, subscribe and delivery against the device's compiled
/// policies. With authorization disabled (bare-gateway benchmarks, transport tests) everything passes.
/// </summary>
public sealed class DeviceGatekeeper(IOptions<BrokerOptions> options, ConnectionAuthorizations connections, IServiceProvider services, ILogger<DeviceGatekeeper> logger)
{
    public bool Enabled { get; } = options.Value.Authorization.Enabled;

    /// <summary>Resolves and records the connection's authorization; returns why it is refused, or null.</summary>
    public async Task<string?> AdmitAsync(X509Certificate2 certificate, string clientId, CancellationToken cancellationToken)
    {
        if (!Enabled)
        {
            return null;
        }
        var resolver = services.GetRequiredService<DeviceAuthorizationResolver>();
        var certificateId = CertificateFactory.GetCertificateId(certificate);
        var result = await resolver.ResolveAsync(certificateId, PolicyCertificate.FromX509(certificate, certificateId),
            certificate.NotBefore.ToUniversalTime(), certificate.NotAfter.ToUniversalTime(), clientId, cancellationToken);
        if (!result.Allowed)
        {
            logger.LogInformation("Refused CONNECT of {ClientId} with certificate {CertificateId}: {Reason}", clientId, certificateId, result.DenyReason);
            return result.DenyReason;
        }
        connections.Set(result.Authorization!);
        return null;
    }

    /// <summary>Forgets a closed connection; a takeover keeps the new connection's entry.</summary>
    public void Disconnected(string clientId, bool takenOver)
    {
        if (Enabled && !takenOver)
        {
            connections.Remove(clientId);
        }
    }

    public bool MayPublish(string clientId, string topic, bool retain)
        => !Enabled || (connections.TryGet(clientId, out var a)
            && a.Policies.Authorize(PolicyAction.Publish, "topic", topic).IsAllowed
            && (!retain || a.Policies.Authorize(PolicyAction.RetainPublish, "topic", topic).IsAllowed));

    public bool MaySubscribe(string clientId, string filter)
        => !Enabled || (connections.TryGet(clientId, out var a) && a.Policies.Authorize(PolicyAction.Subscribe, "topicfilter", filter).IsAllowed);

    public bool MayReceive(string clientId, string topic)
        => !Enabled || (connections.TryGet(clientId, out var a) && a.Policies.Authorize(PolicyAction.Receive, "topic", topic).IsAllowed);
}
