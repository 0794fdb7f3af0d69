using System.Text;
using IoTServerless.Core.Rules;
using IoTServerless.Core.Rules.Actions;
using IoTServerless.Core.Rules.Sql;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace IoTServerless.Core.Tests.Rules.Actions;

/// <summary>The action handlers as the app registers them (AddRuleActions), with tiny retry delays.</summary>
sealed class ActionTestHost : IDisposable
{
    readonly ServiceProvider _services;

    public ActionTestHost(IDictionary<string, string?>? settings = null, Action<IServiceCollection>? configure = null, int maxAttempts = 3)
    {
        var values = new Dictionary<string, string?>
        {
            ["Rules:Actions:MaxAttempts"] = maxAttempts.ToString(),
            ["Rules:Actions:InitialDelay"] = "00:00:00.005",
            ["Rules:Actions:MaxDelay"] = "00:00:00.020",
            ["Rules:Actions:AttemptTimeout"] = "00:00:10",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<IConfiguration>(configuration);
        configure?.Invoke(services);
        services.AddRuleActions(configuration);
        _services = services.BuildServiceProvider();
    }

    public IRuleActionHandler Handler(string kind) => _services.GetServices<IRuleActionHandler>().Single(h => h.Kind == kind);

    public T Get<T>() where T : notnull => _services.GetRequiredService<T>();

    public void Dispose() => _services.Dispose();

    public static RuleMessage Message(string topic = "farm/pump-1/telemetry", string clientId = "pump-1", long timestamp = 1_760_000_000_123, string? messageId = "msg-1")
        => new(topic, Encoding.UTF8.GetBytes("""{"moisture":31}"""), clientId, "principal-1", timestamp, messageId);

    public static RuleActionInvocation Invocation(RuleAction action, string output = """{"moisture":31}""", RuleMessage? message = null, string rule = "soil_rule")
        => new(rule, action, message ?? Message(), Encoding.UTF8.GetBytes(output));
}
