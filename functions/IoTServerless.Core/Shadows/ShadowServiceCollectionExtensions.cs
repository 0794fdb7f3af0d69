using IoTServerless.Core.Events;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace IoTServerless.Core.Shadows;

public static class ShadowServiceCollectionExtensions
{
    /// <summary>
    /// Device shadows: <see cref="ShadowStore"/>, <see cref="ShadowService"/> and the handler of the
    /// shadow requests devices publish; limits from the <c>Shadows</c> section. Needs a
    /// <see cref="Storage.TableClientProvider"/> and, for the handler, an <see cref="Topics.IBrokerClient"/>.
    /// </summary>
    public static IServiceCollection AddShadows(this IServiceCollection services, IConfiguration? configuration = null)
    {
        var options = services.AddOptions<ShadowOptions>();
        if (configuration is not null)
        {
            options.Bind(configuration.GetSection(ShadowOptions.SectionName));
        }
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ShadowStore>();
        services.AddSingleton<ShadowService>();
        services.AddSingleton<IMessageHandler, ShadowRequestHandler>();
        return services;
    }
}
