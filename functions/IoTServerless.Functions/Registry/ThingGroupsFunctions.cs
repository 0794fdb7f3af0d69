using IoTServerless.Core.Registry;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace IoTServerless.Functions.Registry;

/// <summary>AWS IoT's thing group and group membership operations.</summary>
public sealed class ThingGroupsFunctions(ThingGroupStore groups)
{
    [Function("CreateThingGroup")]
    public Task<IActionResult> CreateThingGroupAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "thing-groups/{thingGroupName}")] HttpRequest request,
        string thingGroupName,
        CancellationToken cancellationToken)
        => RegistryHttp.RunAsync(async () =>
        {
            var body = RegistryJson.ParseCreateThingGroup(await RegistryHttp.ReadBodyAsync(request, cancellationToken));
            return new OkObjectResult(await groups.CreateAsync(thingGroupName, body, cancellationToken));
        });

    [Function("DescribeThingGroup")]
    public Task<IActionResult> DescribeThingGroupAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "thing-groups/{thingGroupName}")] HttpRequest request,
        string thingGroupName,
        CancellationToken cancellationToken)
        => RegistryHttp.RunAsync(async () =>
        {
            var group = await groups.GetAsync(thingGroupName, cancellationToken);
            return group is null ? RegistryHttp.NotFound($"Thing group '{thingGroupName}'") : new OkObjectResult(group);
        });

    /// <summary><c>?parentGroup=&amp;recursive=&amp;maxResults=&amp;nextToken=</c>.</summary>
    [Function("ListThingGroups")]
    public Task<IActionResult> ListThingGroupsAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "thing-groups")] HttpRequest request,
        CancellationToken cancellationToken)
        => RegistryHttp.RunAsync(async () => RegistryHttp.List("thingGroups", await groups.ListAsync(
            RegistryHttp.Query(request, "parentGroup"), RegistryHttp.QueryBool(request, "recursive"),
            RegistryHttp.QueryInt(request, "maxResults"), RegistryHttp.Query(request, "nextToken"), cancellationToken)));

    /// <summary>
    /// <c>{"thingGroupProperties":{"thingGroupDescription"?, "attributePayload"?:{"attributes", "merge"?}}, "expectedVersion"?}</c>;
    /// answers <c>{"version"}</c>.
    /// </summary>
    [Function("UpdateThingGroup")]
    public Task<IActionResult> UpdateThingGroupAsync(
        [HttpTrigger(AuthorizationLevel.Function, "patch", Route = "thing-groups/{thingGroupName}")] HttpRequest request,
        string thingGroupName,
        CancellationToken cancellationToken)
        => RegistryHttp.RunAsync(async () =>
        {
            RegistryNames.RequireThingGroupName(thingGroupName);
            var body = RegistryJson.ParseUpdateThingGroup(await RegistryHttp.ReadBodyAsync(request, cancellationToken));
            return new OkObjectResult(await groups.UpdateAsync(thingGroupName, body, cancellationToken));
        });

    /// <summary>A group with child groups is a 409; its memberships go with it.</summary>
    [Function("DeleteThingGroup")]
    public Task<IActionResult> DeleteThingGroupAsync(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = "thing-groups/{thingGroupName}")] HttpRequest request,
        string thingGroupName,
        CancellationToken cancellationToken)
        => RegistryHttp.RunAsync(async () =>
        {
            await groups.DeleteAsync(thingGroupName, cancellationToken);
            return RegistryHttp.Empty();
        });

    /// <summary><c>{"thingGroupName", "thingName"}</c>.</summary>
    [Function("AddThingToThingGroup")]
    public Task<IActionResult> AddThingToThingGroupAsync(
        [HttpTrigger(AuthorizationLevel.Function, "put", Route = "thing-groups/addThingToThingGroup")] HttpRequest request,
        CancellationToken cancellationToken)
        => RegistryHttp.RunAsync(async () =>
        {
            var (group, thing) = RegistryJson.ParseGroupMembership(await RegistryHttp.ReadBodyAsync(request, cancellationToken));
            await groups.AddThingAsync(group, thing, cancellationToken);
            return RegistryHttp.Empty();
        });

    /// <summary><c>{"thingGroupName", "thingName"}</c>.</summary>
    [Function("RemoveThingFromThingGroup")]
    public Task<IActionResult> RemoveThingFromThingGroupAsync(
        [HttpTrigger(AuthorizationLevel.Function, "put", Route = "thing-groups/removeThingFromThingGroup")] HttpRequest request,
        CancellationToken cancellationToken)
        => RegistryHttp.RunAsync(async () =>
        {
            var (group, thing) = RegistryJson.ParseGroupMembership(await RegistryHttp.ReadBodyAsync(request, cancellationToken));
            await groups.RemoveThingAsync(group, thing, cancellationToken);
            return RegistryHttp.Empty();
        });

    /// <summary><c>?maxResults=&amp;nextToken=</c>.</summary>
    [Function("ListThingsInThingGroup")]
    public Task<IActionResult> ListThingsInThingGroupAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "thing-groups/{thingGroupName}/things")] HttpRequest request,
        string thingGroupName,
        CancellationToken cancellationToken)
        => RegistryHttp.RunAsync(async () => RegistryHttp.List("things", await groups.ListThingsAsync(
            thingGroupName, RegistryHttp.QueryInt(request, "maxResults"), RegistryHttp.Query(request, "nextToken"), cancellationToken)));

    /// <summary><c>?maxResults=&amp;nextToken=</c>.</summary>
    [Function("ListThingGroupsForThing")]
    public Task<IActionResult> ListThingGroupsForThingAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "things/{thingName}/thing-groups")] HttpRequest request,
        string thingName,
        CancellationToken cancellationToken)
        => RegistryHttp.RunAsync(async () => RegistryHttp.List("thingGroups", await groups.ListGroupsForThingAsync(
            thingName, RegistryHttp.QueryInt(request, "maxResults"), RegistryHttp.Query(request, "nextToken"), cancellationToken)));
}
