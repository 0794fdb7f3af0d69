using IoTServerless.Broker.Sinks;
using IoTServerless.Core.Rules;
using IoTServerless.Core.Storage;
using IoTServerless.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTServerless.Broker.Tests.Sinks;

/// <summary>
/// A real broker following a rules table in Azurite: what leaves it for the functions (the event sink)
/// follows the enabled rules' FROM filters within seconds of a rule change.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class RuleFilterWatcherTests(AzuriteFixture azurite) : SinkTestBase
{
    readonly string _rulesTable = "Rules" + Guid.NewGuid().ToString("N")[..12];
    readonly string _farm = "farm" + Guid.NewGuid().ToString("N")[..8];

    protected override IDictionary<string, string?> SinkSettings() => new Dictionary<string, string?>
    {
        ["Broker:Events:ForwardTopicFilters:0"] = "control/+",
        ["Broker:Events:RuleFilterPollMilliseconds"] = "500",
        ["Storage:ConnectionString"] = azurite.ConnectionString,
        ["Rules:TableName"] = _rulesTable,
    };

    TopicRuleStore Store => Broker.Services.GetRequiredService<TopicRuleStore>();

    TopicRule Rule(bool disabled = false) => new()
    {
        RuleName = "SoilTelemetry",
        Sql = $"SELECT * FROM '{_farm}/sensor/+/data'",
        RuleDisabled = disabled,
        CreatedAt = DateTimeOffset.UtcNow,
        Actions = [new RuleAction { Table = new TableAction { TableName = "IoTSensorData" } }],
    };

    bool Received(string payload) => Sink.Messages.Any(m => System.Text.Encoding.UTF8.GetString(m.Payload) == payload);

    /// <summary>Publishes a control message (always forwarded) and waits for it: everything published before it has been through the pipeline.</summary>
    async Task FlushAsync(IMqttClient device)
    {
        var marker = "flush-" + Guid.NewGuid().ToString("N");
        await device.PublishStringAsync("control/flush", marker, MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(Received(marker)), TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task EnabledRule_makesTheBrokerForwardItsTopicsWithin5Seconds_andDisablingStopsIt()
    {
        using var device = await TestMqtt.ConnectAsync("soil-001", Broker.MqttPort, Pki.Device("soil-001"), Pki.Ca);
        var topic = $"{_farm}/sensor/soil-001/data";

        await device.PublishStringAsync(topic, "before", MqttQualityOfServiceLevel.AtLeastOnce);
        await FlushAsync(device);
        Assert.False(Received("before")); // no rule reads it: it does not leave the broker

        Assert.True(await Store.TryAddAsync(Rule(), $"{_farm}/sensor/+/data", default));
        var started = DateTime.UtcNow;
        var n = 0;
        Assert.True(await Eventually.TrueAsync(async () =>
        {
            var payload = $"enabled-{n++}";
            await device.PublishStringAsync(topic, payload, MqttQualityOfServiceLevel.AtLeastOnce);
            await Task.Delay(100);
            return Sink.Messages.Any(m => m.Topic == topic && System.Text.Encoding.UTF8.GetString(m.Payload).StartsWith("enabled-", StringComparison.Ordinal));
        }, TimeSpan.FromSeconds(5)), "the rule's topics were not forwarded within 5 s");
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5.5));
        await device.PublishStringAsync($"{_farm}/other/soil-001", "unmatched", MqttQualityOfServiceLevel.AtLeastOnce);
        await FlushAsync(device);
        Assert.False(Received("unmatched")); // only what the filter matches

        var stored = await Store.GetAsync("SoilTelemetry", default);
        Assert.True(await Store.TryReplaceAsync(stored!.Rule with { RuleDisabled = true }, stored.TopicFilter, stored.ETag, default));
        var watcher = Broker.Services.GetRequiredService<RuleFilterWatcher>();
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(!watcher.RuleFilters.Contains($"{_farm}/sensor/+/data")), TimeSpan.FromSeconds(5)));

        await device.PublishStringAsync(topic, "after-disable", MqttQualityOfServiceLevel.AtLeastOnce);
        await FlushAsync(device);
        Assert.False(Received("after-disable"));
    }

    [Fact]
    public async Task DisabledRule_isNotForwarded_andConfiguredFiltersStayForwarded()
    {
        Assert.True(await Store.TryAddAsync(Rule(disabled: true), $"{_farm}/sensor/+/data", default));
        using var device = await TestMqtt.ConnectAsync("soil-002", Broker.MqttPort, Pki.Device("soil-002"), Pki.Ca);
        await Task.Delay(1_200); // more than two polls

        await device.PublishStringAsync($"{_farm}/sensor/soil-002/data", "disabled", MqttQualityOfServiceLevel.AtLeastOnce);
        await FlushAsync(device);
        Assert.False(Received("disabled"));
        var index = Broker.Services.GetRequiredService<ForwardingIndex>();
        Assert.Contains("control/+", index.CurrentFilters);
    }

    [Fact]
    public void ForwardingIndex_matchesExactWildcardAndLeadingWildcardFilters()
    {
        var index = new ForwardingIndex(Options.Create(new BrokerOptions()));
        index.SetFilters(["a/b/c", "farm/+/data", "farm/sensor/#", "+/x", "#/bad", "z/#"]);

        Assert.True(index.ShouldForward("a/b/c"));
        Assert.False(index.ShouldForward("a/b"));
        Assert.True(index.ShouldForward("farm/s1/data"));
        Assert.True(index.ShouldForward("farm/sensor/s1/temp"));
        Assert.True(index.ShouldForward("farm/sensor"));
        Assert.False(index.ShouldForward("farm/pump/state"));
        Assert.True(index.ShouldForward("anything/x"));
        Assert.True(index.ShouldForward("z"));
        Assert.False(index.ShouldForward("q/bad")); // invalid filters are dropped
        Assert.False(index.ShouldForward("$SYS/x")); // wildcards never match '$' topics
        Assert.True(index.ShouldForward("$aws/rules/R1/anything"));
        Assert.DoesNotContain("#/bad", index.CurrentFilters);
    }
}
