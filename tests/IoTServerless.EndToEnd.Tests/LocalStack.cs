using IoTServerless.Testing;

namespace IoTServerless.EndToEnd.Tests;

/// <summary>Azurite + function app (standalone) + broker whose webhook sink posts to the function app.</summary>
public sealed class LocalStack : IAsyncLifetime
{
    public AzuriteFixture Azurite { get; } = new();
    public TestPki Pki { get; } = new();
    public TestBroker Broker { get; private set; } = null!;
    public TestFunctionApp Functions { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Azurite.InitializeAsync();
        // The two point at each other: reserve the function app's port, start the broker, then the app.
        var functionsPort = FreeTcpPort.Next();
        Broker = await TestBroker.StartAsync(Pki, new Dictionary<string, string?>
        {
            ["Broker:Events:Sink"] = "Webhook",
            ["Broker:Events:WebhookUrl"] = $"http://127.0.0.1:{functionsPort}/api/events",
            ["Broker:Events:WebhookKey"] = TestFunctionApp.FunctionKey,
            ["Broker:Events:MaxRetryDelayMilliseconds"] = "500",
            // The broker forwards what the enabled rules' FROM filters match, read from the rules table.
            ["Broker:Events:RuleFilterPollMilliseconds"] = "500",
            ["Storage:ConnectionString"] = Azurite.ConnectionString,
        });
        Functions = await TestFunctionApp.StartAsync(Azurite.ConnectionString, Broker.ApiUrl, port: functionsPort);
    }

    /// <summary>Registers a thing through the HTTP API (idempotent): presence is recorded for registered things only.</summary>
    public async Task RegisterThingAsync(string thingName)
    {
        using var http = Functions.CreateClient();
        using var response = await http.PostAsync($"api/things/{thingName}", new StringContent("{}"));
        response.EnsureSuccessStatusCode();
    }

    public async Task DisposeAsync()
    {
        await Broker.DisposeAsync();
        await Functions.DisposeAsync();
        await Azurite.DisposeAsync();
        Pki.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class LocalStackCollection : ICollectionFixture<LocalStack>
{
    public const string Name = "local-stack";
}
