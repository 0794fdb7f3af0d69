using IoTServerless.Core.Security.Certificates;
using IoTServerless.Functions.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using static IoTServerless.Functions.Certificates.CertificateResults;
using static IoTServerless.Functions.Http.Problems;

namespace IoTServerless.Functions.Certificates;

/// <summary>AWS IoT's device-certificate API.</summary>
public sealed class CertificatesFunctions(CertificateService certificates, CertificateStore store)
{
    [Function("CreateKeysAndCertificate")]
    public Task<IActionResult> CreateKeysAndCertificateAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "keys-and-certificate")] HttpRequest request, CancellationToken cancellationToken)
        => RunAsync(async () =>
        {
            var (c, publicKey, privateKey) = await certificates.CreateKeysAndCertificateAsync(JsonBody.QueryBool(request, "setAsActive", false), cancellationToken);
            return new OkObjectResult(new
            {
                certificateArn = certificates.Arn(c.CertificateId),
                certificateId = c.CertificateId,
                certificatePem = c.CertificatePem,
                // AWS spells these two with capitals; dictionary keys are not camel-cased.
                keyPair = new Dictionary<string, string> { ["PublicKey"] = publicKey, ["PrivateKey"] = privateKey },
            });
        });

    [Function("CreateCertificateFromCsr")]
    public Task<IActionResult> CreateCertificateFromCsrAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "certificates")] HttpRequest request, CancellationToken cancellationToken)
        => RunAsync(async () =>
        {
            var body = await JsonBody.ReadObjectAsync(request, cancellationToken);
            var c = await certificates.CreateCertificateFromCsrAsync(JsonBody.OptionalString(body, "certificateSigningRequest"), JsonBody.QueryBool(request, "setAsActive", false), cancellationToken);
            return new OkObjectResult(new { certificateArn = certificates.Arn(c.CertificateId), certificateId = c.CertificateId, certificatePem = c.CertificatePem });
        });

    [Function("RegisterCertificate")]
    public Task<IActionResult> RegisterCertificateAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "certificate/register")] HttpRequest request, CancellationToken cancellationToken)
        => RunAsync(async () =>
        {
            var body = await JsonBody.ReadObjectAsync(request, cancellationToken);
            var c = await certificates.RegisterAsync(JsonBody.OptionalString(body, "certificatePem"), JsonBody.OptionalString(body, "caCertificatePem"), StatusOf(body), cancellationToken);
            return new OkObjectResult(new { certificateArn = certificates.Arn(c.CertificateId), certificateId = c.CertificateId });
        });

    [Function("RegisterCertificateWithoutCA")]
    public Task<IActionResult> RegisterCertificateWithoutCaAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "certificate/register-no-ca")] HttpRequest request, CancellationToken cancellationToken)
        => RunAsync(async () =>
        {
            var body = await JsonBody.ReadObjectAsync(request, cancellationToken);
            var c = await certificates.RegisterWithoutCaAsync(JsonBody.OptionalString(body, "certificatePem"), StatusOf(body), cancellationToken);
            return new OkObjectResult(new { certificateArn = certificates.Arn(c.CertificateId), certificateId = c.CertificateId });
        });

    [Function("DescribeCertificate")]
    public Task<IActionResult> DescribeCertificateAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "certificates/{certificateId}")] HttpRequest request, string certificateId, CancellationToken cancellationToken)
        => RunAsync(async () => new OkObjectResult(Describe(certificates, await certificates.GetAsync(CheckId(certificateId), cancellationToken))));

    [Function("UpdateCertificate")]
    public Task<IActionResult> UpdateCertificateAsync(
        [HttpTrigger(AuthorizationLevel.Function, "put", Route = "certificates/{certificateId}")] HttpRequest request, string certificateId, CancellationToken cancellationToken)
        => RunAsync(async () =>
        {
            await certificates.UpdateStatusAsync(CheckId(certificateId), request.Query["newStatus"].ToString(), cancellationToken);
            return new OkResult();
        });

    [Function("DeleteCertificate")]
    public Task<IActionResult> DeleteCertificateAsync(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = "certificates/{certificateId}")] HttpRequest request, string certificateId, CancellationToken cancellationToken)
        => RunAsync(async () =>
        {
            await certificates.DeleteAsync(CheckId(certificateId), cancellationToken);
            return new OkResult();
        });

    [Function("ListCertificates")]
    public Task<IActionResult> ListCertificatesAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "certificates")] HttpRequest request, CancellationToken cancellationToken)
        => RunAsync(async () =>
        {
            var pageSize = int.TryParse(request.Query["pageSize"], out var size) && size is > 0 and <= 250 ? size : 25;
            var marker = request.Query["marker"].ToString();
            var (items, next) = await store.ListAsync(pageSize, marker.Length == 0 ? null : marker, cancellationToken);
            return new OkObjectResult(new
            {
                certificates = items.Select(c => new { certificateArn = certificates.Arn(c.CertificateId), certificateId = c.CertificateId, status = c.Status, creationDate = c.CreationDate.ToUnixTimeSeconds() }),
                nextMarker = next,
            });
        });

    static string? StatusOf(System.Text.Json.JsonElement body)
        => JsonBody.OptionalString(body, "status")
            ?? (body.TryGetProperty("setAsActive", out var active) && active.ValueKind == System.Text.Json.JsonValueKind.True ? CertificateStatus.Active : null);

    internal static string CheckId(string certificateId)
        => CertificateArns.IdFromPrincipal(certificateId) is { } id && id == certificateId
            ? id
            : throw CertificateException.Invalid("A certificate id is 64 lower-case hexadecimal characters.");
}
