using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Topics;

/// <summary>Calls the broker's internal HTTP API.</summary>
public sealed class HttpBrokerClient(HttpClient http, IOptions<BrokerApiOptions> options) : IBrokerClient
{
    public async Task PublishAsync(string topic, ReadOnlyMemory<byte> payload, int qos, bool retain, CancellationToken cancellationToken)
    {
        using var request = NewRequest(HttpMethod.Post, $"internal/v1/publish?topic={Uri.EscapeDataString(topic)}&qos={qos}&retain={(retain ? "true" : "false")}");
        request.Content = new ReadOnlyMemoryContent(payload);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await http.SendAsync(request, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
    }

    public async Task PublishBatchAsync(IReadOnlyList<OutboundMessage> messages, CancellationToken cancellationToken)
    {
        for (var start = 0; start < messages.Count; start += OutboundMessage.MaxBatchCount)
        {
            var chunk = messages.Skip(start).Take(OutboundMessage.MaxBatchCount).ToList();
            using var request = NewRequest(HttpMethod.Post, "internal/v1/publish-batch");
            request.Content = JsonContent.Create(new OutboundBatch(chunk), BrokerApiJsonContext.Default.OutboundBatch);
            using var response = await http.SendAsync(request, cancellationToken);
            await EnsureSuccessAsync(response, cancellationToken);
        }
    }

    public async Task<bool> DisconnectAsync(string clientId, CancellationToken cancellationToken)
    {
        using var request = NewRequest(HttpMethod.Post, $"internal/v1/clients/{Uri.EscapeDataString(clientId)}/disconnect");
        using var response = await http.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
        await EnsureSuccessAsync(response, cancellationToken);
        return true;
    }

    HttpRequestMessage NewRequest(HttpMethod method, string relative)
    {
        var o = options.Value;
        var request = new HttpRequestMessage(method, new Uri(o.BaseUrl!, relative));
        request.Headers.Add(BrokerApiOptions.KeyHeader, o.Key);
        return request;
    }

    static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        throw new BrokerApiException(response.StatusCode, body);
    }
}

public sealed class BrokerApiException(HttpStatusCode statusCode, string body)
    : Exception($"The broker API answered {(int)statusCode}: {body}")
{
    public HttpStatusCode StatusCode { get; } = statusCode;
}

/// <summary>The internal API's JSON (payloads as base64).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(OutboundBatch))]
public sealed partial class BrokerApiJsonContext : JsonSerializerContext;
