using IoTServerless.Core.Security.Certificates;
using IoTServerless.Functions.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using static IoTServerless.Functions.Certificates.CertificateResults;
using static IoTServerless.Functions.Http.Problems;

namespace IoTServerless.Functions.Certificates;

/// <summary>AWS IoT's CA-certificate API: registration code, register with proof of possession, status, delete.</summary>
public sealed class CaCertificatesFunctions(CertificateService certificates)
{
    [Function("GetRegistrationCode")]
    public Task<IActionResult> GetRegistrationCodeAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "registrationcode")] HttpRequest request, CancellationToken cancellationToken)
        => RunAsync(async () => new OkObjectResult(new { registrationCode = await certificates.GetRegistrationCodeAsync(cancellationToken) }));

    [Function("RegisterCACertificate")]
    public Task<IActionResult> RegisterCaCertificateAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "cacertificate")] HttpRequest request, CancellationToken cancellationToken)
        => RunAsync(async () =>
        {
            var body = await JsonBody.ReadObjectAsync(request, cancellationToken);
            var ca = await certificates.RegisterCaAsync(
                JsonBody.OptionalString(body, "caCertificate"),
                JsonBody.OptionalString(body, "verificationCertificate"),
                JsonBody.QueryBool(request, "setAsActive", false),
                JsonBody.QueryBool(request, "allowAutoRegistration", false),
                cancellationToken);
            return new OkObjectResult(new { certificateArn = certificates.CaArn(ca.CertificateId), certificateId = ca.CertificateId });
        });

    [Function("DescribeCACertificate")]
    public Task<IActionResult> DescribeCaCertificateAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "cacertificate/{caCertificateId}")] HttpRequest request, string caCertificateId, CancellationToken cancellationToken)
        => RunAsync(async () =>
        {
            var ca = await certificates.GetCaAsync(CertificatesFunctions.CheckId(caCertificateId), cancellationToken);
            return new OkObjectResult(new
            {
                certificateDescription = new
                {
                    certificateArn = certificates.CaArn(ca.CertificateId),
                    certificateId = ca.CertificateId,
                    status = ca.Status,
                    certificatePem = ca.CertificatePem,
                    autoRegistrationStatus = ca.AutoRegistration ? "ENABLE" : "DISABLE",
                    creationDate = ca.CreationDate.ToUnixTimeSeconds(),
                    lastModifiedDate = ca.LastModifiedDate.ToUnixTimeSeconds(),
                    validity = new { notBefore = ca.NotBefore.ToUnixTimeSeconds(), notAfter = ca.NotAfter.ToUnixTimeSeconds() },
                },
            });
        });

    [Function("UpdateCACertificate")]
    public Task<IActionResult> UpdateCaCertificateAsync(
        [HttpTrigger(AuthorizationLevel.Function, "put", Route = "cacertificate/{caCertificateId}")] HttpRequest request, string caCertificateId, CancellationToken cancellationToken)
        => RunAsync(async () =>
        {
            await certificates.UpdateCaStatusAsync(CertificatesFunctions.CheckId(caCertificateId), request.Query["newStatus"].ToString(), cancellationToken);
            return new OkResult();
        });

    [Function("DeleteCACertificate")]
    public Task<IActionResult> DeleteCaCertificateAsync(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = "cacertificate/{caCertificateId}")] HttpRequest request, string caCertificateId, CancellationToken cancellationToken)
        => RunAsync(async () =>
        {
            await certificates.DeleteCaAsync(CertificatesFunctions.CheckId(caCertificateId), cancellationToken);
            return new OkResult();
        });
}
