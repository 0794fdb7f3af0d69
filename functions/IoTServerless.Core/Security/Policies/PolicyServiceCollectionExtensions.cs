using IoTServerless.Core.Security.Changes;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.DependencyInjection;

namespace IoTServerless.Core.Security.Policies;

public static class PolicyServiceCollectionExtensions
{
    /// <summary>The policy store. Needs <see cref="Storage.TableClientProvider"/>, a TimeProvider and <see cref="PlatformOptions"/>.</summary>
    public static IServiceCollection AddPolicies(this IServiceCollection services)
    {
        services.TryAddSingleton<IdentityChangeFeed>();
        services.AddSingleton<PolicyStore>();
        return services;
    }
}
