using System.Globalization;
using IoTServerless.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTServerless.Broker.Tests.Sinks;

/// <summary>
/// A slow sink (Event Grid answers in tens of milliseconds) must not bound forwarding at one batch per
/// round trip: a full batch goes while another is in flight. A light load keeps one send in flight,
/// so QoS 1 PUBACKs share few large batches.
/// </summary>
public sealed class ConcurrentSendTests : SinkTestBase
{
    const int BatchSize = 10;

    protected override IDictionary<string, string?> SinkSettings() => new Dictionary<string, string?>
    {
        ["Broker:Events:ForwardTopicFilters:0"] = "farmA/sensor/+/data",
        ["Broker:Events:BatchWindowMilliseconds"] = "20",
        ["Broker:Events:MaxBatchMessages"] = BatchSize.ToString(CultureInfo.InvariantCulture),
        ["Broker:Events:MaxConcurrentSends"] = "2",
    };

    [Fact]
    public async Task Qos0Readings_ofSeveralBatchesAgainstASlowSink_goWithTwoSendsInFlight()
    {
        using var device = await ConnectedAsync("soil-021");
        Sink.ResponseDelay = TimeSpan.FromMilliseconds(800);

        for (var i = 0; i < 6 * BatchSize; i++)
        {
            await device.PublishStringAsync("farmA/sensor/soil-021/data", $"{{\"seq\":{i}}}", MqttQualityOfServiceLevel.AtMostOnce);
        }

        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(Readings("soil-021") == 6 * BatchSize), TimeSpan.FromSeconds(20)),
            $"{Readings("soil-021")} of {6 * BatchSize} readings reached the sink");
        Assert.Equal(2, Sink.MaxInFlight); // never more than MaxConcurrentSends
    }

    [Fact]
    public async Task Qos1Readings_fromPublishersAwaitingEachPuback_shareOneSendInFlight()
    {
        var devices = new[] { await ConnectedAsync("soil-031"), await ConnectedAsync("soil-032"), await ConnectedAsync("soil-033") };
        Sink.ResponseDelay = TimeSpan.FromMilliseconds(300);

        // Fewer messages wait than a batch holds: the next batch grows while one is in flight. The
        // publishers start 100 ms apart, so messages arrive while a send is in flight.
        await Task.WhenAll(devices.Select(async (device, d) =>
        {
            await Task.Delay(100 * d);
            for (var i = 0; i < 4; i++)
            {
                await device.PublishStringAsync($"farmA/sensor/soil-03{d + 1}/data", $"{{\"seq\":{i}}}", MqttQualityOfServiceLevel.AtLeastOnce);
            }
        }));

        Assert.Equal(12, Enumerable.Range(1, 3).Sum(d => Readings($"soil-03{d}"))); // each PUBACK followed its acceptance
        Assert.Equal(1, Sink.MaxInFlight);
        foreach (var device in devices)
        {
            device.Dispose();
        }
    }

    async Task<IMqttClient> ConnectedAsync(string clientId)
    {
        var device = await TestMqtt.ConnectAsync(clientId, Broker.MqttPort, Pki.Device(clientId), Pki.Ca);
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(Sink.Messages.Any(m => m.Topic == "$aws/events/presence/connected/" + clientId)), TimeSpan.FromSeconds(10)));
        return device;
    }

    int Readings(string clientId) => Sink.Messages.Count(m => m.Topic == $"farmA/sensor/{clientId}/data");
}
