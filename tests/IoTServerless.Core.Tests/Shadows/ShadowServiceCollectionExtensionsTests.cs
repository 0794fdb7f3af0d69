using IoTServerless.Core.Events;
using IoTServerless.Core.Topics;
using IoTServerless.Core.Shadows;
using IoTServerless.Core.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Tests.Shadows;

public sealed class ShadowServiceCollectionExtensionsTests
{
    [Fact]
    public void AddShadows_registersTheServiceAndBindsTheShadowsSection()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Shadows:MaxInFlightPerThing"] = "3", ["Shadows:MaxStateBytes"] = "16384" })
            .Build();
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton(Options.Create(new TableStorageOptions { ConnectionString = "UseDevelopmentStorage=true" }));
        services.AddSingleton<TableClientProvider>();
        services.AddOptions<BrokerApiOptions>();
        services.AddHttpClient<IBrokerClient, HttpBrokerClient>();

        services.AddShadows(configuration);
        using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

        Assert.NotNull(provider.GetRequiredService<ShadowService>());
        Assert.Same(provider.GetRequiredService<ShadowStore>(), provider.GetRequiredService<ShadowStore>());
        var options = provider.GetRequiredService<IOptions<ShadowOptions>>().Value;
        Assert.Equal(3, options.MaxInFlightPerThing);
        Assert.Equal(16384, options.MaxStateBytes);
        Assert.Equal(8192, options.MaxRequestBytes);
        // Devices' shadow requests reach the shadow service through the event dispatcher.
        Assert.Contains(provider.GetServices<IMessageHandler>(), h => h is ShadowRequestHandler && h.TopicFilter == "$aws/things/+/shadow/#");
    }

    [Fact]
    public void AddShadows_withoutConfiguration_usesAwsDefaults()
    {
        var services = new ServiceCollection().AddShadows();
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<ShadowOptions>>().Value;
        Assert.Equal(10, options.MaxInFlightPerThing);
        Assert.Equal(8192, options.MaxStateBytes);
        Assert.Equal(20, options.MaxWriteAttempts);
        Assert.Same(TimeProvider.System, provider.GetRequiredService<TimeProvider>());
    }
}
