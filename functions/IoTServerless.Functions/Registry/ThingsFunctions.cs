using IoTServerless.Core.Registry;
using IoTServerless.Functions.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace IoTServerless.Functions.Registry;

public sealed class ThingsFunctions(ThingStore things)
{
    /// <summary>A thing with its connectivity (connected, since when, why it disconnected).</summary>
    [Function("GetThing")]
    public async Task<IActionResult> GetThingAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "things/{thingName}")] HttpRequest request,
        string thingName,
        CancellationToken cancellationToken)
    {
        if (!ThingName.IsValid(thingName))
        {
            return Problems.BadRequest("Invalid thing name.", "A thing name matches [a-zA-Z0-9:_-]{1,128}.");
        }
        var thing = await things.GetAsync(thingName, cancellationToken);
        return thing is null ? Problems.NotFound("Thing not found.", $"No thing named '{thingName}'.") : new OkObjectResult(thing);
    }
}
