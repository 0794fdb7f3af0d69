using IoTServerless.Core.Security.Certificates;
using IoTServerless.Functions.Http;
using Microsoft.AspNetCore.Mvc;

namespace IoTServerless.Functions.Certificates;

/// <summary>Runs a certificate operation and maps its failures to problem details with AWS's error codes.</summary>
internal static class CertificateResults
{
    public static async Task<IActionResult> RunAsync(Func<Task<IActionResult>> operation)
    {
        try
        {
            return await operation();
        }
        catch (CertificateException ex)
        {
            return Problems.Create(ex.Status, ex.Code, ex.Message);
        }
        catch (ArgumentException ex)
        {
            return Problems.BadRequest("InvalidRequestException", ex.Message);
        }
    }

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
