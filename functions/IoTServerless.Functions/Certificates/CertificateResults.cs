using IoTServerless.Core.Security.Certificates;
using Microsoft.AspNetCore.Mvc;

namespace IoTServerless.Functions.Certificates;

/// <summary>AWS's certificate description shape.</summary>
internal static class CertificateResults
{
    public static object Describe(CertificateService service, DeviceCertificate c) => new
    {
        certificateDescription = new
        {
            certificateArn = service.Arn(c.CertificateId),
            certificateId = c.CertificateId,
            caCertificateId = c.CaCertificateId,
            status = c.Status,
            certificatePem = c.CertificatePem,
            creationDate = c.CreationDate.ToUnixTimeSeconds(),
            lastModifiedDate = c.LastModifiedDate.ToUnixTimeSeconds(),
            validity = new { notBefore = c.NotBefore.ToUnixTimeSeconds(), notAfter = c.NotAfter.ToUnixTimeSeconds() },
        },
    };
}
