using IoTServerless.Core.Events;
using IoTServerless.Core.Http;
using IoTServerless.Functions.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace IoTServerless.Functions.Events;

/// <summary>
/// The events webhook: Event Grid (CloudEvents 1.0) in Azure, the broker's webhook sink locally.
/// A delivery is parsed and validated as a whole before any of it is applied.
/// </summary>
public sealed class EventsFunction(EventDispatcher dispatcher, ILogger<EventsFunction> logger)
{
    const int MaxBodyBytes = 2 * 1024 * 1024;

    [Function("Events")]
    public async Task<IActionResult> RunAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", "options", Route = "events")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        if (HttpMethods.IsOptions(request.Method))
        {
            return Handshake(request);
        }
        var body = await RequestBody.ReadAsync(request, MaxBodyBytes, cancellationToken);
        if (body is null)
        {
            return Problems.PayloadTooLarge(MaxBodyBytes);
        }
        EventDelivery delivery;
        try
        {
            delivery = EventEnvelope.Parse(BinaryData.FromBytes(body));
        }
        catch (InvalidEventDeliveryException ex)
        {
            logger.LogWarning("Rejected an event delivery: {Reason}", ex.Message);
            return Problems.BadRequest("Invalid event delivery.", ex.Message);
        }
        switch (delivery)
        {
            case EventDelivery.Validation validation:
                logger.LogInformation("Answering Event Grid's subscription validation");
                return new OkObjectResult(new { validationResponse = validation.ValidationCode });
            case EventDelivery.Events events:
                var result = await dispatcher.DispatchAsync(events.Items, cancellationToken);
                return new OkObjectResult(new { applied = result.Applied, duplicates = result.Duplicates, ignored = result.Ignored });
            default:
                throw new InvalidOperationException("Unknown delivery.");
        }
    }

    /// <summary>The CloudEvents webhook abuse-protection handshake (HTTP OPTIONS).</summary>
    static OkResult Handshake(HttpRequest request)
    {
        var origin = request.Headers["WebHook-Request-Origin"].ToString();
        var response = request.HttpContext.Response;
        response.Headers["WebHook-Allowed-Origin"] = string.IsNullOrEmpty(origin) ? "*" : origin;
        response.Headers["WebHook-Allowed-Rate"] = "*";
        response.Headers.Allow = "POST, OPTIONS";
        return new OkResult();
    }
}
