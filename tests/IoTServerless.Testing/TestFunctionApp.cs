using IoTServerless.Functions.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace IoTServerless.Testing;

/// <summary>The function app in standalone mode, in-process on a free loopback port.</summary>
public sealed class TestFunctionApp : IAsyncDisposable
{
    public const string FunctionKey = "test-function-key-0123456789";

    TestFunctionApp(WebApplication app) => App = app;

    public WebApplication App { get; }

    public Uri BaseUrl => new(App.Urls.First() + "/");

    /// <summary>An HTTP client that sends the function key.</summary>
    public HttpClient CreateClient()
    {
        var client = new HttpClient { BaseAddress = BaseUrl };
        client.DefaultRequestHeaders.Add("x-functions-key", FunctionKey);
        return client;
    }

    public static async Task<TestFunctionApp> StartAsync(string storageConnectionString, Uri? brokerApi = null, IDictionary<string, string?>? settings = null, int port = 0)
    {
        var config = new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = storageConnectionString,
            ["BrokerApi:BaseUrl"] = (brokerApi ?? new Uri("http://127.0.0.1:1/")).ToString(),
            ["BrokerApi:Key"] = TestBroker.ApiKey,
            ["Hosting:FunctionKey"] = FunctionKey,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            config[key] = value;
        }
        var app = StandaloneFunctionsHost.Create(["--urls", $"http://127.0.0.1:{port}", "--environment", "Test"], builder =>
        {
            builder.Configuration.AddInMemoryCollection(config);
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
        });
        await app.StartAsync();
        return new TestFunctionApp(app);
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
