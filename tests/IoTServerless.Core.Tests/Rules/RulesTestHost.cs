using System.Collections.Concurrent;
using Azure.Data.Tables;
using IoTServerless.Core.Events;
using IoTServerless.Core.Rules;
using IoTServerless.Core.Rules.Engine;
using IoTServerless.Core.Shadows;
using IoTServerless.Core.Storage;
using IoTServerless.Core.Topics;
using IoTServerless.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace IoTServerless.Core.Tests.Rules;

/// <summary>
/// The rules capability as the function app wires it (AddShadows + AddRules) on Azurite, with its own
/// rules table so tests do not see each other's rules, and a broker client that records what it is given.
/// </summary>
sealed class RulesTestHost : IDisposable
{
    readonly ServiceProvider _provider;

    public RulesTestHost(AzuriteFixture azurite, IDictionary<string, string?>? settings = null, string? connectionString = null)
    {
        RulesTable = "Rules" + Guid.NewGuid().ToString("N")[..12];
        var config = new Dictionary<string, string?>
        {
            ["Rules:TableName"] = RulesTable,
            ["Rules:ActionRetryDelayMilliseconds"] = "10",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            config[key] = value;
        }
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(config).Build();
        var services = new ServiceCollection().AddLogging();
        services.AddOptions<TableStorageOptions>().Configure(o => o.ConnectionString = connectionString ?? azurite.ConnectionString);
        services.AddOptions<PlatformOptions>();
        services.AddSingleton<TableClientProvider>();
        services.AddSingleton<IBrokerClient>(Broker);
        services.AddShadows(configuration);
        services.AddRules(configuration);
        _provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
        TableService = new TableServiceClient(azurite.ConnectionString);
    }

    public string RulesTable { get; }

    public RecordingBrokerClient Broker { get; } = new();

    public TableServiceClient TableService { get; }

    public TopicRuleService Rules => _provider.GetRequiredService<TopicRuleService>();

    public TopicRuleStore Store => _provider.GetRequiredService<TopicRuleStore>();

    public RulesEngine Engine => _provider.GetRequiredService<RulesEngine>();

    public T Get<T>() where T : notnull => _provider.GetRequiredService<T>();

    public IEnumerable<IMessageHandler> Handlers => _provider.GetServices<IMessageHandler>();

    /// <summary>Runs a batch through every message handler whose filter matches, as the event dispatcher does.</summary>
    public async Task DispatchAsync(params BrokerMessage[] messages)
    {
        foreach (var handler in Handlers)
        {
            var matching = messages.Where(m => MqttTopic.Matches(handler.TopicFilter, m.Topic)).ToList();
            if (matching.Count > 0)
            {
                await handler.HandleAsync(matching, CancellationToken.None);
            }
        }
    }

    public async Task<List<TableEntity>> RowsAsync(string table)
    {
        var client = TableService.GetTableClient(table);
        var rows = new List<TableEntity>();
        try
        {
            await foreach (var row in client.QueryAsync<TableEntity>())
            {
                rows.Add(row);
            }
        }
        catch (Azure.RequestFailedException ex) when (ex.Status == 404)
        {
        }
        return rows;
    }

    public static string UniqueTable(string prefix) => prefix + Guid.NewGuid().ToString("N")[..10];

    static long _sequence;

    public static BrokerMessage Message(string topic, string payload, string? clientId = "soil-001", long? timestamp = null)
    {
        var n = Interlocked.Increment(ref _sequence);
        return new BrokerMessage
        {
            Id = $"test-{Guid.NewGuid():N}-{n}",
            Topic = topic,
            Payload = System.Text.Encoding.UTF8.GetBytes(payload),
            ClientId = clientId,
            Principal = "cert-" + clientId,
            Timestamp = timestamp ?? 1_764_000_000_000 + n,
            Qos = 1,
        };
    }

    public void Dispose() => _provider.Dispose();
}

/// <summary>An <see cref="IBrokerClient"/> that records each batch publish (the broker's HTTP API is not under test here).</summary>
sealed class RecordingBrokerClient : IBrokerClient
{
    public ConcurrentQueue<IReadOnlyList<OutboundMessage>> Batches { get; } = new();

    /// <summary>When set, every publish throws what it returns.</summary>
    public Func<Exception>? Failure { get; set; }

    public int Calls;

    public IEnumerable<OutboundMessage> Published => Batches.SelectMany(b => b);

    public Task PublishAsync(string topic, ReadOnlyMemory<byte> payload, int qos, bool retain, CancellationToken cancellationToken)
        => PublishBatchAsync([new OutboundMessage(topic, payload, qos, retain)], cancellationToken);

    public Task PublishBatchAsync(IReadOnlyList<OutboundMessage> messages, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Calls);
        if (Failure is { } failure)
        {
            throw failure();
        }
        Batches.Enqueue([.. messages]);
        return Task.CompletedTask;
    }

    public Task<bool> DisconnectAsync(string clientId, CancellationToken cancellationToken) => Task.FromResult(false);
}
