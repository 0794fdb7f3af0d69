using IoTServerless.Core.Registry;
using IoTServerless.Core.Security.Certificates;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace IoTServerless.Functions.Registry;

/// <summary>AWS IoT's thing operations (CreateThing, DescribeThing, UpdateThing, DeleteThing, ListThings).</summary>
public sealed class ThingsFunctions(ThingStore things, ThingPrincipalStore principals)
{
    [Function("CreateThing")]
    public Task<IActionResult> CreateThingAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "things/{thingName}")] HttpRequest request,
        string thingName,
        CancellationToken cancellationToken)
        => RegistryHttp.RunAsync(async () =>
        {
            var body = RegistryJson.ParseCreateThing(await RegistryHttp.ReadBodyAsync(request, cancellationToken));
            return new OkObjectResult(await things.CreateAsync(thingName, body, cancellationToken));
        });

    /// <summary>The thing with its connectivity (connected, since when, why it disconnected).</summary>
    [Function("DescribeThing")]
    public Task<IActionResult> DescribeThingAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "things/{thingName}")] HttpRequest request,
        string thingName,
        CancellationToken cancellationToken)
        => RegistryHttp.RunAsync(async () =>
        {
            RegistryNames.RequireThingName(thingName);
            var thing = await things.GetAsync(thingName, cancellationToken);
            return thing is null ? RegistryHttp.NotFound($"Thing '{thingName}'") : new OkObjectResult(thing);
        });

    [Function("UpdateThing")]
    public Task<IActionResult> UpdateThingAsync(
        [HttpTrigger(AuthorizationLevel.Function, "patch", Route = "things/{thingName}")] HttpRequest request,
        string thingName,
        CancellationToken cancellationToken)
        => RegistryHttp.RunAsync(async () =>
        {
            RegistryNames.RequireThingName(thingName);
            var body = RegistryJson.ParseUpdateThing(await RegistryHttp.ReadBodyAsync(request, cancellationToken));
            await things.UpdateAsync(thingName, body, cancellationToken);
            return RegistryHttp.Empty();
        });

    [Function("DeleteThing")]
    public Task<IActionResult> DeleteThingAsync(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = "things/{thingName}")] HttpRequest request,
        string thingName,
        CancellationToken cancellationToken)
        => RegistryHttp.RunAsync(async () =>
        {
            RegistryNames.RequireThingName(thingName);
            if ((await principals.ListPrincipalsAsync(thingName, cancellationToken)).Count > 0)
            {
                // As AWS IoT: detach the certificates before deleting the thing.
                throw RegistryException.Invalid($"Thing {thingName} is still attached to one or more principals; detach them first.");
            }
            await things.DeleteAsync(thingName, RegistryHttp.QueryLong(request, "expectedVersion"), cancellationToken);
            return RegistryHttp.Empty();
        });

    /// <summary><c>?thingTypeName=&amp;attributeName=&amp;attributeValue=&amp;thingGroupName=&amp;maxResults=&amp;nextToken=</c>.</summary>
    [Function("ListThings")]
    public Task<IActionResult> ListThingsAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "things")] HttpRequest request,
        CancellationToken cancellationToken)
        => RegistryHttp.RunAsync(async () =>
        {
            var query = new ThingQuery
            {
                ThingTypeName = RegistryHttp.Query(request, "thingTypeName"),
                AttributeName = RegistryHttp.Query(request, "attributeName"),
                AttributeValue = request.Query.ContainsKey("attributeValue") ? request.Query["attributeValue"].ToString() : null,
                ThingGroupName = RegistryHttp.Query(request, "thingGroupName"),
                MaxResults = RegistryHttp.QueryInt(request, "maxResults"),
                NextToken = RegistryHttp.Query(request, "nextToken"),
            };
            return RegistryHttp.List("things", await things.ListAsync(query, cancellationToken));
        });
}
