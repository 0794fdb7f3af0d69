using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Security.Certificates;

/// <summary>
/// What the broker publishes on <c>$aws/events/certificates/registered/{caCertificateId}</c> when it
/// registers a certificate just in time (AWS's JITR notification).
/// </summary>
public sealed record CertificateRegisteredEvent(
    string CertificateId,
    string CaCertificateId,
    long Timestamp,
    string CertificateStatus,
    string AwsAccountId,
    long CertificateRegistrationTimestamp);

/// <summary>
/// AWS IoT's just-in-time registration (JITR). A device certificate that is not registered, but is
/// signed by a registered ACTIVE CA whose auto-registration is enabled, is registered on its first
/// connection as PENDING_ACTIVATION with that CA. The broker refuses that connection and publishes
/// <see cref="CertificateRegisteredEvent"/>; whoever activates the certificate (a rule's function, an
/// operator) and attaches its thing and policy lets the device's next connection in.
/// </summary>
public sealed class JustInTimeRegistration(
    DeviceDirectory directory,
    CertificateStore store,
    IOptions<PlatformOptions> platform,
    TimeProvider time,
    ILogger<JustInTimeRegistration> logger)
{
    /// <summary>
    /// Registers <paramref name="certificate"/> if a registered CA allows it; returns the event to
    /// publish, or null when no CA does or another connection registered it first.
    /// </summary>
    public async Task<CertificateRegisteredEvent?> TryRegisterAsync(X509Certificate2 certificate, CancellationToken cancellationToken)
    {
        var cas = await directory.GetCasAsync(cancellationToken);
        var issuer = cas.FirstOrDefault(ca => ca.Status == CertificateStatus.Active && ca.AutoRegistration
            && ca.Subject == certificate.Issuer && CertificateService.IsIssuedBy(certificate, ca.CertificatePem));
        if (issuer is null)
        {
            return null;
        }
        var now = time.GetUtcNow();
        var record = CertificateService.Describe(certificate, CertificateStatus.PendingActivation, issuer.CertificateId, now);
        try
        {
            await store.AddAsync(record, cancellationToken);
        }
        catch (CertificateException ex) when (ex.Code == "ResourceAlreadyExistsException")
        {
            return null; // registered meanwhile (another connection or broker replica): notified once
        }
        logger.LogInformation("Registered certificate {CertificateId} of CA {CaCertificateId} just in time as {Status}",
            record.CertificateId, issuer.CertificateId, record.Status);
        var epochMs = now.ToUnixTimeMilliseconds();
        return new CertificateRegisteredEvent(record.CertificateId, issuer.CertificateId, epochMs, record.Status, platform.Value.AccountId, epochMs);
    }
}
