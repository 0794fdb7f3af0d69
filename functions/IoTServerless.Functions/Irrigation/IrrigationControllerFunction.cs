using System.Text.Json;
using IoTServerless.Functions.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace IoTServerless.Functions.Irrigation;

/// <summary>
/// The example of user code in the irrigation loop, called by the <c>LowHumidity</c> rule's
/// <c>function</c> action with the rule's output (<c>{…reading…, "sensorId": "soil-001"}</c>).
/// Answers 200 with what it decided; 404 for an unknown sensor, so the rule's errorAction hears of it.
/// </summary>
public sealed class IrrigationControllerFunction(IrrigationController controller)
{
    [Function("IrrigationController")]
    public async Task<IActionResult> RunAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "irrigation")] HttpRequest request,
        CancellationToken cancellationToken)
        => await Problems.RunAsync(async () =>
        {
            var body = await JsonBody.ReadObjectAsync(request, cancellationToken);
            if (!body.TryGetProperty("sensorId", out var sensor) || sensor.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(sensor.GetString()))
            {
                return Problems.BadRequest("Invalid reading.", "sensorId must be a non-empty string (the rule selects topic(3) AS sensorId).");
            }
            var decision = await controller.IrrigateAsync(sensor.GetString()!, cancellationToken);
            if (decision.Outcome == IrrigationOutcome.UnknownSensor)
            {
                return Problems.NotFound("Unknown sensor.", $"There is no thing named '{decision.SensorId}'.");
            }
            return new OkObjectResult(new
            {
                outcome = decision.Outcome.ToString(),
                sensorId = decision.SensorId,
                pumpId = decision.PumpId,
                commandTopic = decision.CommandTopic,
            });
        });
}
