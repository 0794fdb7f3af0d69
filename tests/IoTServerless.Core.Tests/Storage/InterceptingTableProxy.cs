using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace IoTServerless.Core.Tests.Storage;

/// <summary>
/// A loopback HTTP proxy in front of the real Azurite table endpoint. Before forwarding each
/// entity write (POST/PUT/MERGE/PATCH on an entity table) it awaits <see cref="BeforeWrite"/>, which
/// lets a test run a rival writer at exactly the point between a store's read and its write.
/// Shared-key signatures do not cover the host, so requests are forwarded unchanged.
/// </summary>
sealed class InterceptingTableProxy : IAsyncDisposable
{
    static readonly HashSet<string> HopHeaders = new(StringComparer.OrdinalIgnoreCase) { "Host", "Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length" };

    readonly WebApplication _app;
    readonly HttpClient _upstream;

    InterceptingTableProxy(WebApplication app, HttpClient upstream)
    {
        _app = app;
        _upstream = upstream;
    }

    /// <summary>Called with the request path before an entity write is forwarded.</summary>
    public Func<string, Task>? BeforeWrite { get; set; }

    public int Port { get; private set; }

    /// <summary>Azurite's connection string with the table endpoint moved to the proxy.</summary>
    public string ConnectionString(string azuriteConnectionString, int azuritePort)
        => azuriteConnectionString.Replace($":{azuritePort}/", $":{Port}/", StringComparison.Ordinal);

    public static async Task<InterceptingTableProxy> StartAsync(int azuritePort)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http1));
        var app = builder.Build();
        var upstream = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{azuritePort}") };
        var proxy = new InterceptingTableProxy(app, upstream);
        app.Run(proxy.ForwardAsync);
        await app.StartAsync();
        proxy.Port = new Uri(app.Urls.First()).Port;
        return proxy;
    }

    async Task ForwardAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "";
        var isEntityWrite = request.Method is "POST" or "PUT" or "MERGE" or "PATCH"
            && !path.EndsWith("/Tables", StringComparison.Ordinal)
            && !path.Contains("$batch", StringComparison.Ordinal);
        if (isEntityWrite && BeforeWrite is { } hook)
        {
            await hook(path);
        }

        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? path + request.QueryString;
        using var message = new HttpRequestMessage(new HttpMethod(request.Method), target);
        if (request.ContentLength > 0 || request.Headers.ContainsKey("Transfer-Encoding"))
        {
            var body = new MemoryStream();
            await request.Body.CopyToAsync(body, context.RequestAborted);
            body.Position = 0;
            message.Content = new StreamContent(body);
        }
        foreach (var header in request.Headers)
        {
            if (HopHeaders.Contains(header.Key))
            {
                continue;
            }
            if (!message.Headers.TryAddWithoutValidation(header.Key, [.. header.Value]))
            {
                message.Content?.Headers.TryAddWithoutValidation(header.Key, [.. header.Value]);
            }
        }

        using var response = await _upstream.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var header in response.Headers.Concat(response.Content.Headers))
        {
            if (!HopHeaders.Contains(header.Key))
            {
                context.Response.Headers[header.Key] = header.Value.ToArray();
            }
        }
        await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _upstream.Dispose();
    }
}
