using System.Collections.Concurrent;
using System.Text.Json;
using Azure.Messaging;
using IoTServerless.Core.Events;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace IoTServerless.Testing;

/// <summary>
/// A real HTTP endpoint standing in for the functions' events webhook, recording every CloudEvent
/// batch it accepts. It can be stopped and started again on the same port (a sink outage).
/// </summary>
public sealed class TestEventReceiver : IAsyncDisposable
{
    WebApplication? _app;

    public int Port { get; private set; }

    public Uri Url => new($"http://127.0.0.1:{Port}/api/events");

    int _inFlight;
    int _maxInFlight;

    public ConcurrentQueue<CloudEvent> Events { get; } = new();

    /// <summary>How long each request is held before it is answered: a slow sink (Event Grid's round trip).</summary>
    public TimeSpan ResponseDelay { get; set; }

    /// <summary>The most requests that were open at once.</summary>
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    public IEnumerable<BrokerMessage> Messages => Events
        .Where(e => e.Type == EventTypes.MessageBatch)
        .SelectMany(e => JsonSerializer.Deserialize(e.Data!, EventJsonContext.Default.MessageBatch)!.Messages);

    public static async Task<TestEventReceiver> StartAsync()
    {
        var receiver = new TestEventReceiver();
        await receiver.StartAsync(0);
        return receiver;
    }

    public async Task StartAsync(int port)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Test" });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        app.MapPost("/api/events", async (HttpRequest request) =>
        {
            var open = Interlocked.Increment(ref _inFlight);
            int max;
            while (open > (max = Volatile.Read(ref _maxInFlight)) && Interlocked.CompareExchange(ref _maxInFlight, open, max) != max)
            {
            }
            try
            {
                var body = await BinaryData.FromStreamAsync(request.Body);
                if (ResponseDelay > TimeSpan.Zero)
                {
                    await Task.Delay(ResponseDelay);
                }
                foreach (var e in CloudEvent.ParseMany(body))
                {
                    Events.Enqueue(e);
                }
                return Results.Ok();
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
        });
        await app.StartAsync();
        Port = new Uri(app.Urls.First()).Port;
        _app = app;
    }

    public async Task StopAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());
}
