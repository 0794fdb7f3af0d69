using System.Security.Cryptography.X509Certificates;
using IoTServerless.Core.Security;
using IoTServerless.Core.Security.Certificates;
using IoTServerless.Core.Shadows;
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

    /// <summary>
    /// Resolves and records the connection's authorization. An unregistered certificate of a CA with
    /// auto-registration is registered just in time (PENDING_ACTIVATION) and still refused.
    /// </summary>
    public async Task<Admission> AdmitAsync(X509Certificate2 certificate, string certificateId, string clientId, CancellationToken cancellationToken)
    {
        if (!Enabled)
        {
            return Admission.Admitted;
        }
        var resolver = services.GetRequiredService<DeviceAuthorizationResolver>();
        var directory = services.GetRequiredService<DeviceDirectory>();
        var policyCertificate = PolicyCertificate.FromX509(certificate, certificateId);
        DeviceAuthorizationResult result;
        while (true)
        {
            var generation = directory.Generation;
            result = await resolver.ResolveAsync(certificateId, policyCertificate,
                certificate.NotBefore.ToUniversalTime(), certificate.NotAfter.ToUniversalTime(), clientId, cancellationToken);
            if (!result.Allowed)
            {
                break;
            }
            connections.Set(result.Authorization!);
            if (directory.Generation == generation)
            {
                return Admission.Admitted;
            }
            // The identity changed while this CONNECT was decided, perhaps after the change watcher
            // re-checked the live connections: decide again on fresh reads rather than keep a stale grant.
            connections.Remove(clientId);
        }
        logger.LogInformation("Refused CONNECT of {ClientId} with certificate {CertificateId}: {Reason}", clientId, certificateId, result.DenyReason);
        var registered = result.Refusal == ConnectRefusal.NotRegistered
            ? await services.GetRequiredService<JustInTimeRegistration>().TryRegisterAsync(certificate, cancellationToken)
            : null;
        return new Admission(result.Refusal, registered);
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
            && (a.Policies.Authorize(PolicyAction.Publish, "topic", topic).IsAllowed || MayRequestShadow(a, topic))
            && (!retain || a.Policies.Authorize(PolicyAction.RetainPublish, "topic", topic).IsAllowed));

    /// <summary>
    /// A shadow request (<c>…/shadow[/name/{shadow}]/get|update|delete</c>) is also allowed by the
    /// policy model's shadow action on the shadow (<c>iot:GetThingShadow</c>, <c>iot:UpdateThingShadow</c>,
    /// <c>iot:DeleteThingShadow</c> on <c>thing/{thing}</c>, or <c>thing/{thing}/{shadow}</c> for a named
    /// shadow), besides <c>iot:Publish</c> on its topic as AWS IoT Core requires; an explicit Deny of
    /// either still refuses it.
    /// </summary>
    static bool MayRequestShadow(DeviceAuthorization a, string topic)
    {
        if (!topic.StartsWith("$aws/things/", StringComparison.Ordinal) || !ShadowTopic.TryParse(topic, out var request))
        {
            return false;
        }
        if (a.Policies.Authorize(PolicyAction.Publish, "topic", topic).Outcome == AuthorizationOutcome.ExplicitDeny)
        {
            return false;
        }
        var action = request.Operation switch
        {
            ShadowOperation.Get => PolicyAction.GetThingShadow,
            ShadowOperation.Update => PolicyAction.UpdateThingShadow,
            _ => PolicyAction.DeleteThingShadow,
        };
        var resource = request.ShadowName is null ? request.ThingName : request.ThingName + "/" + request.ShadowName;
        return a.Policies.Authorize(action, "thing", resource).IsAllowed;
    }

    public bool MaySubscribe(string clientId, string filter)
        => !Enabled || (connections.TryGet(clientId, out var a) && a.Policies.Authorize(PolicyAction.Subscribe, "topicfilter", filter).IsAllowed);

    public bool MayReceive(string clientId, string topic)
        => !Enabled || (connections.TryGet(clientId, out var a) && a.Policies.Authorize(PolicyAction.Receive, "topic", topic).IsAllowed);
}

/// <summary>The CONNECT decision: admitted, or why not, and a just-in-time registration to announce.</summary>
public sealed record Admission(ConnectRefusal Refusal, CertificateRegisteredEvent? Registered = null)
{
    public static readonly Admission Admitted = new(ConnectRefusal.None);

    public bool IsAdmitted => Refusal == ConnectRefusal.None;
}
