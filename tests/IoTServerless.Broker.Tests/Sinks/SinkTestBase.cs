using IoTServerless.Testing;

namespace IoTServerless.Broker.Tests.Sinks;

/// <summary>A real broker whose event sink is a real HTTP receiver (<see cref="Sink"/>), started before the broker and stopped after it.</summary>
public abstract class SinkTestBase : BrokerTestBase
{
    protected TestEventReceiver Sink { get; private set; } = null!;

    /// <summary>The broker's settings besides the sink's address (forwarded filters, batching, ...).</summary>
    protected abstract IDictionary<string, string?> SinkSettings();

    protected sealed override async Task<IDictionary<string, string?>?> SettingsAsync()
    {
        Sink = await TestEventReceiver.StartAsync();
        var settings = new Dictionary<string, string?>(SinkSettings())
        {
            ["Broker:Events:Sink"] = "Webhook",
            ["Broker:Events:WebhookUrl"] = Sink.Url.ToString(),
        };
        return settings;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Sink.DisposeAsync();
    }
}
