using IoTServerless.Core.Rules.Actions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Tests.Rules.Actions;

public sealed class RuleActionsServiceCollectionExtensionsTests
{
    [Fact]
    public void AddRuleActions_registers_each_azure_action_once()
    {
        var configuration = new ConfigurationBuilder().Build();
        var services = new ServiceCollection().AddLogging();

        services.AddRuleActions(configuration);
        services.AddRuleActions(configuration);
        using var provider = services.BuildServiceProvider();

        Assert.Equal(["blob", "eventGrid", "function", "http", "queue"], provider.GetServices<IRuleActionHandler>().Select(h => h.Kind).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void AddRuleActions_binds_options_from_rules_actions_section()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Rules:Actions:MaxAttempts"] = "7",
            ["Rules:Actions:InitialDelay"] = "00:00:02",
            ["Rules:Actions:MaxConcurrency"] = "4",
            ["Rules:Actions:ManagedIdentityClientId"] = "11111111-2222-3333-4444-555555555555",
        }).Build();
        using var provider = new ServiceCollection().AddLogging().AddRuleActions(configuration).BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<RuleActionOptions>>().Value;

        Assert.Equal(7, options.MaxAttempts);
        Assert.Equal(TimeSpan.FromSeconds(2), options.InitialDelay);
        Assert.Equal(4, options.MaxConcurrency);
        Assert.Equal("11111111-2222-3333-4444-555555555555", options.ManagedIdentityClientId);
    }

    [Fact]
    public void AddRuleActions_rejects_zero_attempts()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Rules:Actions:MaxAttempts"] = "0" }).Build();
        using var provider = new ServiceCollection().AddLogging().AddRuleActions(configuration).BuildServiceProvider();

        Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<RuleActionOptions>>().Value);
    }
}
