using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace IoTServerless.Core.Tests.Rules.Actions;

/// <summary>A real loopback webhook (Kestrel, port 0) that records each request and answers with scripted statuses (then 200).</summary>
sealed class TestWebhook : IAsyncDisposable
{
    public sealed record Received(string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, byte[] Body, string? ContentType);

    readonly WebApplication _app;
    readonly ConcurrentQueue<int> _statuses = new();

    TestWebhook(WebApplication app) => _app = app;

    public ConcurrentQueue<Received> Requests { get; } = new();

    public Uri BaseUrl { get; private set; } = null!;

    public Uri Url(string path = "/hook") => new(BaseUrl, path);

    /// <summary>The statuses the next requests get, in order; afterwards 200.</summary>
    public void Respond(params int[] statuses)
    {
        foreach (var status in statuses)
        {
            _statuses.Enqueue(status);
        }
    }

    /// <summary>Every request gets this status.</summary>
    public int? Always { get; set; }

    /// <summary>Requests to these paths always get these statuses.</summary>
    public ConcurrentDictionary<string, int> ByPath { get; } = new(StringComparer.Ordinal);

    public static async Task<TestWebhook> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http1));
        var app = builder.Build();
        var hook = new TestWebhook(app);
        app.Run(hook.HandleAsync);
        await app.StartAsync();
        hook.BaseUrl = new Uri(app.Urls.First());
        return hook;
    }

    async Task HandleAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        Requests.Enqueue(new Received(context.Request.Method, context.Request.Path.Value ?? "", context.Request.QueryString.Value ?? "", headers, body.ToArray(), context.Request.ContentType));
        context.Response.StatusCode = ByPath.TryGetValue(context.Request.Path.Value ?? "", out var fixedStatus) ? fixedStatus : Always ?? (_statuses.TryDequeue(out var status) ? status : 200);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
