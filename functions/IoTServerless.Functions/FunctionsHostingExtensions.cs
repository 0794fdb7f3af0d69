using IoTServerless.Core;
using IoTServerless.Functions.Events;
using IoTServerless.Functions.Irrigation;

namespace IoTServerless.Functions;

public static class FunctionsHostingExtensions
{
    /// <summary>All of the function app's services; the same under the Functions host and standalone.</summary>
    public static IHostApplicationBuilder AddIoTServerlessFunctions(this IHostApplicationBuilder builder)
    {
        builder.AddIoTServerlessCore();
        builder.Services.AddOptions<EventRetentionOptions>().Bind(builder.Configuration.GetSection(EventRetentionOptions.SectionName));

        // The example of user code in the irrigation loop (the LowHumidity rule's function action).
        builder.Services.AddOptions<IrrigationOptions>().Bind(builder.Configuration.GetSection(IrrigationOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<IrrigationController>();
        return builder;
    }
}
