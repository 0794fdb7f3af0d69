using System.Net.Http.Headers;
using Microsoft.Extensions.Options;

namespace IoTServerless.Broker.Sinks;

/// <summary>Posts CloudEvents batches (<c>application/cloudevents-batch+json</c>) to the functions' events endpoint.</summary>
public sealed class WebhookEventSink(HttpClient http, IOptions<BrokerOptions> options) : IEventSink
{
    static readonly MediaTypeHeaderValue BatchContentType = MediaTypeHeaderValue.Parse("application/cloudevents-batch+json; charset=utf-8");

    public async Task SendAsync(ReadOnlyMemory<byte> cloudEvents, CancellationToken cancellationToken)
    {
        var o = options.Value.Events;
        using var request = new HttpRequestMessage(HttpMethod.Post, o.WebhookUrl);
        request.Content = new ReadOnlyMemoryContent(cloudEvents);
        request.Content.Headers.ContentType = BatchContentType;
        if (!string.IsNullOrEmpty(o.WebhookKey))
        {
            request.Headers.Add("x-functions-key", o.WebhookKey);
        }
        using var response = await http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"The events endpoint answered {(int)response.StatusCode}.", null, response.StatusCode);
        }
    }
}
