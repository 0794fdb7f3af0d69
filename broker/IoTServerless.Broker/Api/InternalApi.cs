using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
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
    const int MaxPayloadBytes = OutboundMessage.MaxPayloadBytes;

    /// <summary>A full batch of maximal payloads as base64 JSON, with room for topics.</summary>
    const int MaxBatchBodyBytes = OutboundMessage.MaxBatchCount * (MaxPayloadBytes * 4 / 3 + 1024);

    public static IEndpointRouteBuilder MapInternalApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/internal/v1").AddEndpointFilter(RequireKeyAsync);
        group.MapPost("/publish", PublishAsync);
        group.MapPost("/publish-batch", PublishBatchAsync);
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

    static async Task<IResult> PublishAsync(HttpRequest request, MqttServer server, SubscriberDispatch dispatch, string? topic, int? qos, bool? retain, CancellationToken cancellationToken)
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
        await InjectAsync(server, dispatch, new OutboundMessage(topic!, payload, qos ?? 1, retain ?? false), cancellationToken);
        return Results.Accepted();
    }

    /// <summary>Publishes a batch in order; nothing is published unless every message is valid.</summary>
    static async Task<IResult> PublishBatchAsync(HttpRequest request, MqttServer server, SubscriberDispatch dispatch, CancellationToken cancellationToken)
    {
        var body = await RequestBody.ReadAsync(request, MaxBatchBodyBytes, cancellationToken);
        if (body is null)
        {
            return Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Batch too large.");
        }
        OutboundBatch? batch;
        try
        {
            batch = JsonSerializer.Deserialize(body, BrokerApiJsonContext.Default.OutboundBatch);
        }
        catch (JsonException ex)
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid batch.", detail: ex.Message);
        }
        if (batch?.Messages is not { } messages || messages.Count > OutboundMessage.MaxBatchCount)
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid batch.", detail: $"messages must be an array of at most {OutboundMessage.MaxBatchCount}.");
        }
        for (var i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m is null)
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid message.", detail: $"messages[{i}] is null.");
            }
            if (!MqttTopic.IsValidTopicName(m.Topic, out var error))
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid topic.", detail: $"messages[{i}].topic: {error}");
            }
            if (m.Qos is < 0 or > 1 || m.Payload.Length > MaxPayloadBytes)
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid message.", detail: $"messages[{i}]: qos must be 0 or 1 and the payload at most {MaxPayloadBytes} bytes.");
            }
        }
        foreach (var m in messages)
        {
            await InjectAsync(server, dispatch, m, cancellationToken);
        }
        return Results.Accepted();
    }

    /// <summary>Publishes as the platform: to the subscribers the broker's index names, or through MQTTnet (<see cref="SubscriberDispatch.PublishAsync"/>).</summary>
    static Task InjectAsync(MqttServer server, SubscriberDispatch dispatch, OutboundMessage outbound, CancellationToken cancellationToken)
    {
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(outbound.Topic)
            .WithPayload(outbound.Payload.ToArray())
            .WithQualityOfServiceLevel(outbound.Qos == 0 ? MqttQualityOfServiceLevel.AtMostOnce : MqttQualityOfServiceLevel.AtLeastOnce)
            .WithRetainFlag(outbound.Retain)
            .Build();
        return dispatch.PublishAsync(server, message, cancellationToken);
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
