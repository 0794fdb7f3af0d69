using IoTServerless.Core.Registry;
using IoTServerless.Core.Security.Certificates;
using IoTServerless.Core.Security.Policies;

namespace IoTServerless.Core.Security;

/// <summary>What a connected device may do: its certificate, client id, attached thing and compiled policies.</summary>
public sealed record DeviceAuthorization(
    string CertificateId,
    string ClientId,
    string? ThingName,
    PolicyCertificate Certificate,
    DateTimeOffset NotBefore,
    DateTimeOffset NotAfter,
    CompiledPolicySet Policies);

/// <summary>Why a connection is refused.</summary>
public enum ConnectRefusal
{
    None,
    NotTimeValid,

    /// <summary>The certificate is not registered (just-in-time registration may apply).</summary>
    NotRegistered,
    NotActive,
    CaNotActive,

    /// <summary>The certificate is fine; its policies do not allow <c>iot:Connect</c>.</summary>
    ConnectNotAllowed,
}

/// <summary>The outcome of resolving a connection: allowed with its authorization, or the reason it is not.</summary>
public sealed record DeviceAuthorizationResult(DeviceAuthorization? Authorization, string? DenyReason, ConnectRefusal Refusal = ConnectRefusal.None)
{
    public bool Allowed => Authorization is not null;
}

/// <summary>
/// Resolves who a connecting device is and what it may do, as AWS IoT Core does on CONNECT: the
/// certificate must be registered and ACTIVE (and its CA, if registered with one, ACTIVE); the
/// policies are those attached to the certificate plus those of every thing group (and ancestor) of
/// the thing whose name is the client id, when that thing is attached to the certificate; thing
/// policy variables resolve only then; and <c>iot:Connect</c> on <c>client/{clientId}</c> must be allowed.
/// </summary>
public sealed class DeviceAuthorizationResolver(DeviceDirectory directory, TimeProvider time)
{
    public async Task<DeviceAuthorizationResult> ResolveAsync(string certificateId, PolicyCertificate certificate, DateTimeOffset notBefore, DateTimeOffset notAfter, string clientId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (now < notBefore || now > notAfter)
        {
            return Deny(ConnectRefusal.NotTimeValid, "the certificate is not valid at this time");
        }
        var record = await directory.GetCertificateAsync(certificateId, cancellationToken);
        if (record is null)
        {
            return Deny(ConnectRefusal.NotRegistered, "the certificate is not registered");
        }
        if (record.Status != CertificateStatus.Active)
        {
            return Deny(ConnectRefusal.NotActive, $"the certificate is {record.Status}");
        }
        if (record.CaCertificateId is { } caId && (await directory.GetCaAsync(caId, cancellationToken))?.Status is not CertificateStatus.Active)
        {
            return Deny(ConnectRefusal.CaNotActive, "the certificate's CA is not ACTIVE");
        }

        Thing? thing = null;
        var targets = new List<string> { "cert/" + certificateId };
        if (ThingName.IsValid(clientId) && (await directory.GetThingsOfCertificateAsync(certificateId, cancellationToken)).Contains(clientId))
        {
            thing = await directory.GetThingAsync(clientId, cancellationToken);
            if (thing is not null)
            {
                targets.AddRange((await directory.GetGroupAncestryAsync(thing.ThingName, cancellationToken)).Select(g => "thinggroup/" + g));
            }
        }
        var documents = await directory.GetAttachedDocumentsAsync(targets, cancellationToken);
        var context = new PolicyContext
        {
            ClientId = clientId,
            Thing = thing is null ? null : new PolicyThing(thing.ThingName, thing.ThingTypeName, thing.Attributes),
            Certificate = certificate,
        };
        var compiled = CompiledPolicySet.Compile(documents, context);
        var connect = compiled.Authorize(PolicyAction.Connect, "client", clientId);
        if (!connect.IsAllowed)
        {
            return Deny(ConnectRefusal.ConnectNotAllowed, $"iot:Connect on client/{clientId} is not allowed ({connect})");
        }
        return new DeviceAuthorizationResult(new DeviceAuthorization(certificateId, clientId, thing?.ThingName, certificate, notBefore, notAfter, compiled), null);
    }

    static DeviceAuthorizationResult Deny(ConnectRefusal refusal, string reason) => new(null, reason, refusal);
}
