using System.Text.Json;
using IoTServerless.Core.Http;
using IoTServerless.Core.Shadows;
using IoTServerless.Core.Topics;
using IoTServerless.Functions.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace IoTServerless.Functions.Shadows;

/// <summary>
/// AWS IoT's shadow data-plane API over HTTP (GetThingShadow, UpdateThingShadow, DeleteThingShadow,
/// ListNamedShadowsForThing), <c>?name=</c> for a named shadow. It answers with the same documents as
/// the MQTT path and publishes the same notifications to devices (<c>…/accepted</c>, <c>update/delta</c>,
/// <c>update/documents</c>), so a device hears about a change an application made over HTTP.
/// Refusals are problem details carrying the shadow error document's <c>code</c> and <c>message</c>.
/// </summary>
public sealed class ShadowFunctions(ShadowService shadows, IBrokerClient broker)
{
    /// <summary>Above the shadow service's own 8 KB state limit, so an oversized document gets the contract's 413 from it.</summary>
    const int MaxBodyBytes = 64 * 1024;

    [Function("GetThingShadow")]
    public async Task<IActionResult> GetThingShadowAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "things/{thingName}/shadow")] HttpRequest request,
        string thingName,
        CancellationToken cancellationToken)
        => Answer(await shadows.GetAsync(thingName, ShadowName(request), ReadOnlyMemory<byte>.Empty, cancellationToken));

    [Function("UpdateThingShadow")]
    public async Task<IActionResult> UpdateThingShadowAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "things/{thingName}/shadow")] HttpRequest request,
        string thingName,
        CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadAsync(request, MaxBodyBytes, cancellationToken);
        if (body is null)
        {
            return Problems.PayloadTooLarge(MaxBodyBytes);
        }
        var shadowName = ShadowName(request);
        var result = await shadows.UpdateAsync(thingName, shadowName, body, cancellationToken);
        await NotifyAsync(thingName, shadowName, ShadowOperation.Update, result, cancellationToken);
        return Answer(result);
    }

    [Function("DeleteThingShadow")]
    public async Task<IActionResult> DeleteThingShadowAsync(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = "things/{thingName}/shadow")] HttpRequest request,
        string thingName,
        CancellationToken cancellationToken)
    {
        var shadowName = ShadowName(request);
        var result = await shadows.DeleteAsync(thingName, shadowName, ReadOnlyMemory<byte>.Empty, cancellationToken);
        await NotifyAsync(thingName, shadowName, ShadowOperation.Delete, result, cancellationToken);
        return Answer(result);
    }

    /// <summary><c>?nextToken=&amp;pageSize=</c>: the thing's named shadows, <c>{"results":[…],"nextToken":…,"timestamp":…}</c>.</summary>
    [Function("ListNamedShadowsForThing")]
    public async Task<IActionResult> ListNamedShadowsForThingAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "things/{thingName}/shadows")] HttpRequest request,
        string thingName,
        CancellationToken cancellationToken)
    {
        var pageSizeText = request.Query["pageSize"].ToString();
        int? pageSize = null;
        if (pageSizeText.Length > 0)
        {
            if (!int.TryParse(pageSizeText, out var parsed))
            {
                return Problems.BadRequest("Invalid pageSize.", "pageSize must be an integer.");
            }
            pageSize = parsed;
        }
        var nextToken = request.Query["nextToken"].ToString();
        var page = await shadows.ListNamedAsync(thingName, nextToken.Length > 0 ? nextToken : null, pageSize, cancellationToken);
        return Answer(page.StatusCode, page.Payload);
    }

    /// <summary>Absent or empty is the classic shadow.</summary>
    static string? ShadowName(HttpRequest request)
    {
        var name = request.Query["name"].ToString();
        return name.Length > 0 ? name : null;
    }

    /// <summary>Only accepted changes notify: a refused HTTP request has no MQTT requester waiting for its rejection.</summary>
    Task NotifyAsync(string thingName, string? shadowName, ShadowOperation operation, ShadowResult result, CancellationToken cancellationToken)
        => result.Accepted
            ? broker.PublishBatchAsync([.. ShadowNotifications.For(new ShadowTopic(thingName, shadowName, operation), result)], cancellationToken)
            : Task.CompletedTask;

    static IActionResult Answer(ShadowResult result) => Answer(result.StatusCode, result.Payload);

    static IActionResult Answer(int status, byte[] payload)
    {
        if (status is >= 200 and < 300)
        {
            return new FileContentResult(payload, "application/json");
        }
        using var error = JsonDocument.Parse(payload);
        var root = error.RootElement;
        var message = root.TryGetProperty("message", out var m) ? m.GetString() : null;
        var problem = Problems.Create(status, message ?? "The shadow request was refused.");
        var details = (ProblemDetails)problem.Value!;
        foreach (var property in root.EnumerateObject())
        {
            details.Extensions[property.Name] = property.Value.Clone();
        }
        return problem;
    }
}
