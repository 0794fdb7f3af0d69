using IoTServerless.Core.Security.Certificates;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using static IoTServerless.Functions.Certificates.CertificateResults;
using static IoTServerless.Functions.Http.Problems;

namespace IoTServerless.Functions.Certificates;

/// <summary>Attaching certificates (principals, header <c>x-amzn-principal</c>) to things, as AWS IoT does.</summary>
public sealed class ThingPrincipalsFunctions(CertificateService certificates)
{
    const string PrincipalHeader = "x-amzn-principal";

    [Function("AttachThingPrincipal")]
    public Task<IActionResult> AttachAsync(
        [HttpTrigger(AuthorizationLevel.Function, "put", Route = "things/{thingName}/principals")] HttpRequest request, string thingName, CancellationToken cancellationToken)
        => RunAsync(async () =>
        {
            await certificates.AttachThingPrincipalAsync(thingName, request.Headers[PrincipalHeader].ToString(), cancellationToken);
            return new OkResult();
        });

    [Function("DetachThingPrincipal")]
    public Task<IActionResult> DetachAsync(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = "things/{thingName}/principals")] HttpRequest request, string thingName, CancellationToken cancellationToken)
        => RunAsync(async () =>
        {
            await certificates.DetachThingPrincipalAsync(thingName, request.Headers[PrincipalHeader].ToString(), cancellationToken);
            return new OkResult();
        });

    [Function("ListThingPrincipals")]
    public Task<IActionResult> ListThingPrincipalsAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "things/{thingName}/principals")] HttpRequest request, string thingName, CancellationToken cancellationToken)
        => RunAsync(async () => new OkObjectResult(new { principals = (await certificates.ListThingPrincipalsAsync(thingName, cancellationToken)).Select(certificates.Arn) }));

    [Function("ListPrincipalThings")]
    public Task<IActionResult> ListPrincipalThingsAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "principals/things")] HttpRequest request, CancellationToken cancellationToken)
        => RunAsync(async () => new OkObjectResult(new { things = await certificates.ListPrincipalThingsAsync(request.Headers[PrincipalHeader].ToString(), cancellationToken) }));
}
