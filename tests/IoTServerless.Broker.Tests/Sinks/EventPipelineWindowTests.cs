using IoTServerless.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTServerless.Broker.Tests.Sinks;

/// <summary>
/// The batch window bounds how often a light load is sent, never how much gets through: with the long
/// window a deployment uses, QoS 0 readings beyond one batch per window must still reach the rules.
/// </summary>
public sealed class EventPipelineWindowTests : SinkTestBase
{
    const int BatchSize = 10;

    protected override IDictionary<string, string?> SinkSettings() => new Dictionary<string, string?>
    {
        ["Broker:Events:ForwardTopicFilters:0"] = "farmA/sensor/+/data",
        ["Broker:Events:BatchWindowMilliseconds"] = "60000",
        ["Broker:Events:MaxBatchMessages"] = BatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    [Fact]
    public async Task Qos0Readings_fillingBatchesWithinOneWindow_areSentWithoutWaitingForIt()
    {
        using var device = await TestMqtt.ConnectAsync("soil-006", Broker.MqttPort, Pki.Device("soil-006"), Pki.Ca);
        // The device's connected event went at once (the pipeline was idle) and opened a 60 s window.
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(Sink.Messages.Any(m => m.Topic == "$aws/events/presence/connected/soil-006")), TimeSpan.FromSeconds(10)));

        for (var i = 0; i < 3 * BatchSize; i++)
        {
            await device.PublishStringAsync("farmA/sensor/soil-006/data", $"{{\"seq\":{i}}}", MqttQualityOfServiceLevel.AtMostOnce);
        }

        // Three full batches: none of them waits for the window to end.
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(Readings() == 3 * BatchSize), TimeSpan.FromSeconds(20)),
            $"{Readings()} of {3 * BatchSize} readings reached the sink");
    }

    int Readings() => Sink.Messages.Count(m => m.Topic == "farmA/sensor/soil-006/data");
}
