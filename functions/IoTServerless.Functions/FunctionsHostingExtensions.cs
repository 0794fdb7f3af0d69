using IoTServerless.Core;
using IoTServerless.Functions.Events;

namespace IoTServerless.Functions;

public static class FunctionsHostingExtensions
{
    /// <summary>All of the function app's services; the same under the Functions host and standalone.</summary>
    public static IHostApplicationBuilder AddIoTServerlessFunctions(this IHostApplicationBuilder builder)
    {
        builder.AddIoTServerlessCore();
        builder.Services.AddOptions<EventRetentionOptions>().Bind(builder.Configuration.GetSection(EventRetentionOptions.SectionName));
        return builder;
    }
}
