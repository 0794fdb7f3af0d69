using IoTServerless.Core.Events;
using IoTServerless.Core.Registry;
using IoTServerless.Core.Rules;
using IoTServerless.Core.Rules.Actions;
using IoTServerless.Core.Security.Certificates;
using IoTServerless.Core.Security.Policies;
using IoTServerless.Core.Shadows;
using IoTServerless.Core.Storage;
using IoTServerless.Core.Topics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace IoTServerless.Core;

public static class CoreServiceCollectionExtensions
{
    /// <summary>The domain services the function app runs: storage, events, registry, certificates, policies, shadows, rules, broker client.</summary>
    public static IHostApplicationBuilder AddIoTServerlessCore(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton(TimeProvider.System);
        services.AddOptions<PlatformOptions>().Bind(builder.Configuration.GetSection(PlatformOptions.SectionName));
        services.AddOptions<TableStorageOptions>().Bind(builder.Configuration.GetSection(TableStorageOptions.SectionName));
        services.AddSingleton<TableClientProvider>();

        services.AddOptions<BrokerApiOptions>().Bind(builder.Configuration.GetSection(BrokerApiOptions.SectionName)).ValidateDataAnnotations();
        services.AddHttpClient<IBrokerClient, HttpBrokerClient>();

        services.AddSingleton<IProcessedEventStore, TableProcessedEventStore>();
        services.AddSingleton<EventDispatcher>();

        services.AddCertificates(builder.Configuration);

        services.AddRegistry();
        services.AddPolicies();
        services.AddShadows(builder.Configuration);
        services.AddRules(builder.Configuration);
        services.AddRuleActions(builder.Configuration);
        return builder;
    }
}
