using System.Security.Cryptography;
using System.Text;
using IoTServerless.Broker.Mqtt;
using IoTServerless.Core.Http;
using IoTServerless.Core.Topics;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace IoTServerless.Broker.Api;

/// <summary>
/// The broker's internal HTTP API, called by the functions: publish to any topic, disconnect a client.
/// Served only on the API listener and only with the configured key.
/// </summary>
public static class InternalApi
{
    const int MaxPayloadBytes = 128 * 1024;

    public static IEndpointRouteBuilder MapInternalApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/internal/v1").AddEndpointFilter(RequireKeyAsync);
        group.MapPost("/publish", PublishAsync);
        group.MapPost("/clients/{clientId}/disconnect", DisconnectAsync);
        group.MapGet("/clients", ListClientsAsync);
        return app;
    }

    static async ValueTask<object?> RequireKeyAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var expected = context.HttpContext.RequestServices.GetRequiredService<IOptions<BrokerOptions>>().Value.Api.Key!;
        var presented = context.HttpContext.Request.Headers[BrokerApiOptions.KeyHeader].ToString();
        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(expected)))
        {
            return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "A valid broker API key is required.");
        }
        return await next(context);
    }

    static async Task<IResult> PublishAsync(HttpRequest request, MqttServer server, string? topic, int? qos, bool? retain, CancellationToken cancellationToken)
    {
        if (!MqttTopic.IsValidTopicName(topic, out var error))
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid topic.", detail: error);
        }
        if (qos is < 0 or > 2)
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid qos.", detail: "qos must be 0 or 1.");
        }
        var payload = await RequestBody.ReadAsync(request, MaxPayloadBytes, cancellationToken);
        if (payload is null)
        {
            return Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Payload too large.", detail: $"The payload limit is {MaxPayloadBytes} bytes.");
        }
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(qos is 0 ? MqttQualityOfServiceLevel.AtMostOnce : MqttQualityOfServiceLevel.AtLeastOnce)
            .WithRetainFlag(retain ?? false)
            .Build();
        await server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message), cancellationToken);
        return Results.Accepted();
    }

    static async Task<IResult> DisconnectAsync(string clientId, MqttServer server, MqttEventHandlers handlers)
    {
        var clients = await server.GetClientsAsync();
        if (!clients.Any(c => c.Id == clientId))
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such client is connected.");
        }
        handlers.MarkApiDisconnect(clientId);
        await server.DisconnectClientAsync(clientId, MqttDisconnectReasonCode.AdministrativeAction);
        return Results.NoContent();
    }

    static async Task<IResult> ListClientsAsync(MqttServer server)
    {
        var clients = await server.GetClientsAsync();
        return Results.Ok(clients.Select(c => new { clientId = c.Id, connectedAt = c.ConnectedTimestamp }));
    }
}
