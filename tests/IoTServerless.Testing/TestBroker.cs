using IoTServerless.Broker;
using IoTServerless.Broker.Sinks;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MQTTnet.Server;

namespace IoTServerless.Testing;

/// <summary>The real broker, in-process, on free loopback ports (MQTT/TLS, WSS, API).</summary>
public sealed class TestBroker : IAsyncDisposable
{
    public const string ApiKey = "test-broker-api-key-0123456789";

    readonly WebApplication _app;

    TestBroker(WebApplication app) => _app = app;

    public IServiceProvider Services => _app.Services;
    public BrokerListeners Listeners => _app.Services.GetRequiredService<BrokerListeners>();
    public int MqttPort => Listeners.MqttPort;
    public int WebSocketPort => Listeners.WebSocketPort;
    public Uri ApiUrl => new($"http://127.0.0.1:{Listeners.ApiPort}/");
    public MqttServer Server => _app.Services.GetRequiredService<MqttServer>();
    public EventPipeline Pipeline => _app.Services.GetRequiredService<EventPipeline>();

    /// <summary>Starts a broker. <paramref name="settings"/> override the defaults (keys as in configuration).</summary>
    public static async Task<TestBroker> StartAsync(TestPki pki, IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var config = new Dictionary<string, string?>
        {
            ["Broker:Mqtt:BindAddress"] = "127.0.0.1",
            ["Broker:Mqtt:Port"] = "0",
            ["Broker:WebSockets:BindAddress"] = "127.0.0.1",
            ["Broker:WebSockets:Port"] = "0",
            ["Broker:Api:BindAddress"] = "127.0.0.1",
            ["Broker:Api:Port"] = "0",
            ["Broker:Api:Key"] = ApiKey,
            ["Broker:Tls:ServerCertificatePath"] = pki.ServerCertificatePath,
            ["Broker:Tls:ServerKeyPath"] = pki.ServerKeyPath,
            ["Broker:Tls:ClientCaPath"] = pki.CaPath,
            ["Broker:Events:Sink"] = "None",
            // Transport-level tests run without the registry; authorization tests switch it on with Storage.
            ["Broker:Authorization:Enabled"] = "false",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            config[key] = value;
        }
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Test" });
        builder.Configuration.AddInMemoryCollection(config);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddBroker();
        services?.Invoke(builder.Services);
        var app = builder.Build();
        app.MapBroker();
        await app.StartAsync();
        return new TestBroker(app);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
