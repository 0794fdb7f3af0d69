using System.Text.Json;
using IoTServerless.Functions.Events;
using IoTServerless.Functions.Hosting;
using IoTServerless.Testing;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace IoTServerless.Functions.Tests.Hosting;

/// <summary>Standalone mode serves exactly the functions the Functions host would (its functions.metadata).</summary>
[Collection(AzuriteCollection.Name)]
public sealed class FunctionCatalogTests(AzuriteFixture azurite)
{
    /// <summary>What the Functions SDK generated for the host at build time.</summary>
    static List<(string Name, string Trigger, string? Route, string? Methods, string? AuthLevel, string? Schedule)> HostMetadata()
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var path = Path.Combine(RepoPaths.Root, "functions", "IoTServerless.Functions", "bin", configuration, "net10.0", "functions.metadata");
        Assert.True(File.Exists(path), $"functions.metadata not found at {path}");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var list = new List<(string, string, string?, string?, string?, string?)>();
        foreach (var function in doc.RootElement.EnumerateArray())
        {
            var trigger = function.GetProperty("bindings").EnumerateArray().Single(b => b.GetProperty("type").GetString()!.EndsWith("Trigger", StringComparison.Ordinal));
            list.Add((
                function.GetProperty("name").GetString()!,
                trigger.GetProperty("type").GetString()!,
                trigger.TryGetProperty("route", out var r) ? r.GetString() : null,
                trigger.TryGetProperty("methods", out var m) ? string.Join(',', m.EnumerateArray().Select(x => x.GetString()!.ToLowerInvariant()).Order()) : null,
                trigger.TryGetProperty("authLevel", out var a) ? a.GetString() : null,
                trigger.TryGetProperty("schedule", out var s) ? s.GetString() : null));
        }
        return [.. list.OrderBy(f => f.Item1, StringComparer.Ordinal)];
    }

    [Fact]
    public void Discover_findsTheSameFunctionsAsTheHostMetadata()
    {
        var standalone = FunctionCatalog.Discover(typeof(EventsFunction).Assembly)
            .Select(f => (f.Name,
                f.Http is not null ? "httpTrigger" : "timerTrigger",
                f.Http?.Route,
                f.Http?.Methods is { } m ? string.Join(',', m.Select(x => x.ToLowerInvariant()).Order()) : null,
                f.Http?.AuthLevel.ToString(),
                f.Timer?.Schedule))
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .ToList();

        var host = HostMetadata();
        Assert.NotEmpty(host);
        Assert.Equal(host, standalone);
    }

    [Fact]
    public async Task StandaloneHost_servesEveryHttpFunctionAtItsRouteAndMethods()
    {
        await using var app = await TestFunctionApp.StartAsync(azurite.ConnectionString);
        var endpoints = app.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();
        var timers = app.App.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<StandaloneTimerService>().Select(t => t.FunctionName).ToHashSet();

        foreach (var function in HostMetadata())
        {
            if (function.Trigger == "httpTrigger")
            {
                var endpoint = Assert.Single(endpoints, e => e.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName == function.Name);
                Assert.Equal("/api/" + function.Route, endpoint.RoutePattern.RawText);
                var methods = endpoint.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods.Select(m => m.ToLowerInvariant()).Order();
                Assert.Equal(function.Methods, string.Join(',', methods));
            }
            else
            {
                Assert.Contains(function.Name, timers);
            }
        }
    }

    [Fact]
    public async Task StandaloneHost_requiresTheFunctionKey()
    {
        await using var app = await TestFunctionApp.StartAsync(azurite.ConnectionString);
        using var anonymous = new HttpClient { BaseAddress = app.BaseUrl };
        using var response = await anonymous.GetAsync("api/things/soil-001");
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, response.StatusCode);
        using var withCode = await anonymous.GetAsync($"api/things/soil-001?code={TestFunctionApp.FunctionKey}");
        Assert.NotEqual(System.Net.HttpStatusCode.Unauthorized, withCode.StatusCode);
    }
}
