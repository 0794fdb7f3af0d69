using IoTServerless.Core.Http;
using IoTServerless.Core.Topics;
using IoTServerless.Functions.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace IoTServerless.Functions.Topics;

/// <summary>AWS IoT's data-plane Publish: apps and functions send messages (commands) to devices.</summary>
public sealed class PublishFunction(IBrokerClient broker)
{
    const int MaxPayloadBytes = 128 * 1024;

    [Function("Publish")]
    public async Task<IActionResult> PublishAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "topics/{*topic}")] HttpRequest request,
        string topic,
        CancellationToken cancellationToken)
    {
        if (!MqttTopic.IsValidTopicName(topic, out var error))
        {
            return Problems.BadRequest("Invalid topic.", error);
        }
        var qosText = request.Query["qos"].ToString();
        var qos = 0;
        if (qosText.Length > 0 && !(int.TryParse(qosText, out qos) && qos is 0 or 1))
        {
            return Problems.BadRequest("Invalid qos.", "qos must be 0 or 1.");
        }
        var retainText = request.Query["retain"].ToString();
        var retain = false;
        if (retainText.Length > 0 && !bool.TryParse(retainText, out retain))
        {
            return Problems.BadRequest("Invalid retain.", "retain must be true or false.");
        }
        var payload = await RequestBody.ReadAsync(request, MaxPayloadBytes, cancellationToken);
        if (payload is null)
        {
            return Problems.PayloadTooLarge(MaxPayloadBytes);
        }
        await broker.PublishAsync(topic, payload, qos, retain, cancellationToken);
        return new OkObjectResult(new { });
    }
}
