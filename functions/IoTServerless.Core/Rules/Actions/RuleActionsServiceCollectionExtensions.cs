using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using IoTServerless.Core.Storage;

namespace IoTServerless.Core.Rules.Actions;

public static class RuleActionsServiceCollectionExtensions
{
    /// <summary>
    /// Registers the rules engine's Azure actions — http, function, eventGrid, queue, blob — as
    /// <see cref="IRuleActionHandler"/> singletons, with <see cref="RuleActionOptions"/> from
    /// <c>Rules:Actions</c> and the storage settings from <c>Storage</c>.
    /// </summary>
    public static IServiceCollection AddRuleActions(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RuleActionOptions>().Bind(configuration.GetSection(RuleActionOptions.SectionName)).ValidateDataAnnotations();
        services.AddOptions<TableStorageOptions>().Bind(configuration.GetSection(TableStorageOptions.SectionName));
        services.TryAddSingleton(TimeProvider.System);

        services.AddHttpClient(RuleWebhookSender.HttpClientName, (sp, client) => client.Timeout = sp.GetRequiredService<IOptions<RuleActionOptions>>().Value.AttemptTimeout)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            });

        services.TryAddSingleton<IEventGridPublisherFactory, EventGridPublisherFactory>();
        services.TryAddSingleton<IRuleActionTokenProvider, DefaultAzureCredentialTokenProvider>();
        services.TryAddSingleton<RuleStorageClientProvider>();

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IRuleActionHandler, HttpActionHandler>(sp => new HttpActionHandler(
            sp.GetRequiredService<IHttpClientFactory>(), sp.GetRequiredService<IOptions<RuleActionOptions>>(),
            sp.GetRequiredService<ILogger<HttpActionHandler>>(), sp.GetRequiredService<TimeProvider>())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IRuleActionHandler, FunctionActionHandler>(sp => new FunctionActionHandler(
            sp.GetRequiredService<IHttpClientFactory>(), sp.GetService<IConfiguration>() ?? configuration,
            sp.GetRequiredService<IOptions<RuleActionOptions>>(), sp.GetRequiredService<ILogger<FunctionActionHandler>>(),
            sp.GetRequiredService<IRuleActionTokenProvider>(), sp.GetRequiredService<TimeProvider>())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IRuleActionHandler, EventGridActionHandler>(sp => new EventGridActionHandler(
            sp.GetRequiredService<IEventGridPublisherFactory>(), sp.GetRequiredService<IOptions<RuleActionOptions>>(),
            sp.GetRequiredService<ILogger<EventGridActionHandler>>(), sp.GetRequiredService<TimeProvider>())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IRuleActionHandler, QueueActionHandler>(sp => new QueueActionHandler(
            sp.GetRequiredService<RuleStorageClientProvider>(), sp.GetRequiredService<IOptions<RuleActionOptions>>(),
            sp.GetRequiredService<ILogger<QueueActionHandler>>(), sp.GetRequiredService<TimeProvider>())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IRuleActionHandler, BlobActionHandler>(sp => new BlobActionHandler(
            sp.GetRequiredService<RuleStorageClientProvider>(), sp.GetRequiredService<IOptions<RuleActionOptions>>(),
            sp.GetRequiredService<ILogger<BlobActionHandler>>(), sp.GetRequiredService<TimeProvider>())));
        return services;
    }
}
