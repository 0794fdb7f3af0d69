using IoTServerless.Core.Registry;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace IoTServerless.Functions.Registry;

/// <summary>AWS IoT's thing type operations.</summary>
public sealed class ThingTypesFunctions(ThingTypeStore types)
{
    [Function("CreateThingType")]
    public Task<IActionResult> CreateThingTypeAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "thing-types/{thingTypeName}")] HttpRequest request,
        string thingTypeName,
        CancellationToken cancellationToken)
        => RegistryHttp.RunAsync(async () =>
        {
            var body = RegistryJson.ParseCreateThingType(await RegistryHttp.ReadBodyAsync(request, cancellationToken));
            return new OkObjectResult(await types.CreateAsync(thingTypeName, body, cancellationToken));
        });

    [Function("DescribeThingType")]
    public Task<IActionResult> DescribeThingTypeAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "thing-types/{thingTypeName}")] HttpRequest request,
        string thingTypeName,
        CancellationToken cancellationToken)
        => RegistryHttp.RunAsync(async () =>
        {
            var type = await types.GetAsync(thingTypeName, cancellationToken);
            return type is null ? RegistryHttp.NotFound($"Thing type '{thingTypeName}'") : new OkObjectResult(type);
        });

    /// <summary><c>?maxResults=&amp;nextToken=</c>.</summary>
    [Function("ListThingTypes")]
    public Task<IActionResult> ListThingTypesAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "thing-types")] HttpRequest request,
        CancellationToken cancellationToken)
        => RegistryHttp.RunAsync(async () => RegistryHttp.List("thingTypes",
            await types.ListAsync(RegistryHttp.QueryInt(request, "maxResults"), RegistryHttp.Query(request, "nextToken"), cancellationToken)));

    /// <summary><c>{"undoDeprecate": bool}</c>.</summary>
    [Function("DeprecateThingType")]
    public Task<IActionResult> DeprecateThingTypeAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "thing-types/{thingTypeName}/deprecate")] HttpRequest request,
        string thingTypeName,
        CancellationToken cancellationToken)
        => RegistryHttp.RunAsync(async () =>
        {
            RegistryNames.RequireThingTypeName(thingTypeName);
            var undo = RegistryJson.ParseDeprecateThingType(await RegistryHttp.ReadBodyAsync(request, cancellationToken));
            await types.DeprecateAsync(thingTypeName, undo, cancellationToken);
            return RegistryHttp.Empty();
        });

    /// <summary>Only a deprecated type that no thing uses can be deleted (409 otherwise).</summary>
    [Function("DeleteThingType")]
    public Task<IActionResult> DeleteThingTypeAsync(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = "thing-types/{thingTypeName}")] HttpRequest request,
        string thingTypeName,
        CancellationToken cancellationToken)
        => RegistryHttp.RunAsync(async () =>
        {
            await types.DeleteAsync(thingTypeName, cancellationToken);
            return RegistryHttp.Empty();
        });
}
