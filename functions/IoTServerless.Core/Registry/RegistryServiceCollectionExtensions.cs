using IoTServerless.Core.Events;
using IoTServerless.Core.Security.Changes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace IoTServerless.Core.Registry;

public static class RegistryServiceCollectionExtensions
{
    /// <summary>The registry: things, thing types, thing groups and presence. Needs a <see cref="Storage.TableClientProvider"/>.</summary>
    public static IServiceCollection AddRegistry(this IServiceCollection services)
    {
        services.TryAddSingleton<IdentityChangeFeed>();
        services.AddSingleton<ThingStore>();
        services.AddSingleton<ThingTypeStore>();
        services.AddSingleton<ThingGroupStore>();
        services.AddSingleton<IMessageHandler, PresenceHandler>();
        return services;
    }
}
