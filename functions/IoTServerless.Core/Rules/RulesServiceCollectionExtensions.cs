using IoTServerless.Core.Events;
using IoTServerless.Core.Rules.Actions;
using IoTServerless.Core.Rules.Engine;
using IoTServerless.Core.Rules.Sql;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace IoTServerless.Core.Rules;

public static class RulesServiceCollectionExtensions
{
    /// <summary>
    /// Topic rules: the store (<see cref="TopicRuleStore"/>), the control plane (<see cref="TopicRuleService"/>),
    /// the engine (<see cref="RulesEngine"/>, as message handlers for <c>#</c> and <c>$aws/#</c>) and the
    /// <c>table</c> and <c>republish</c> actions; settings from the <c>Rules</c> section. Other action kinds
    /// plug in by registering an <see cref="IRuleActionHandler"/> (e.g.
    /// <c>services.TryAddEnumerable(ServiceDescriptor.Singleton&lt;IRuleActionHandler, MyHandler&gt;())</c>).
    /// Needs a <see cref="Storage.TableClientProvider"/>, an <see cref="Topics.IBrokerClient"/>,
    /// <see cref="PlatformOptions"/> and the shadows (<c>AddShadows</c>) for get_thing_shadow.
    /// </summary>
    public static IServiceCollection AddRules(this IServiceCollection services, IConfiguration? configuration = null)
    {
        services.AddRuleStore(configuration);
        services.TryAddSingleton<RuleActionHandlers>();
        services.TryAddSingleton<RuleTemplates>();
        services.TryAddSingleton<RuleCatalog>();
        services.TryAddSingleton<TopicRuleService>();
        services.TryAddSingleton<IRuleFunctionServices, ShadowRuleFunctionServices>();
        services.TryAddSingleton<RulesEngine>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IRuleActionHandler, TableActionHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IRuleActionHandler, RepublishActionHandler>());
        services.AddSingleton<IMessageHandler>(sp => new RuleMessageHandler(RuleMessageHandler.OrdinaryTopics, sp.GetRequiredService<RulesEngine>()));
        services.AddSingleton<IMessageHandler>(sp => new RuleMessageHandler(RuleMessageHandler.ReservedTopics, sp.GetRequiredService<RulesEngine>()));
        return services;
    }

    /// <summary>Only the rule store and its options (what the broker needs to read the rules' FROM filters).</summary>
    public static IServiceCollection AddRuleStore(this IServiceCollection services, IConfiguration? configuration = null)
    {
        var options = services.AddOptions<RulesOptions>();
        if (configuration is not null)
        {
            options.Bind(configuration.GetSection(RulesOptions.SectionName));
        }
        options.ValidateDataAnnotations();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<TopicRuleStore>();
        return services;
    }
}
