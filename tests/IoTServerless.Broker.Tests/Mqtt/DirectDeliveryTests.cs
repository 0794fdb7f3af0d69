using System.Globalization;
using IoTServerless.Broker.Mqtt;
using IoTServerless.Broker.Sinks;
using IoTServerless.Testing;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace IoTServerless.Broker.Tests.Mqtt;

/// <summary>
/// QoS 0 deliveries to MQTT 3.1.x connections go straight from the publisher's thread to the
/// subscriber's pump (README "Broker performance"): what a subscriber receives must not change.
/// </summary>
public sealed class DirectDeliveryTests : BrokerTestBase
{
    sealed record Received(string Payload, bool Retain, MqttQualityOfServiceLevel Qos);

    async Task<(IMqttClient Client, List<Received> Messages)> SubscribeAsync(string clientId, MqttTopicFilter filter, MqttProtocolVersion version = MqttProtocolVersion.V311)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(TestMqtt.Options(clientId, Broker.MqttPort, Pki.Device(clientId), Pki.Ca, version));
        var messages = new List<Received>();
        client.ApplicationMessageReceivedAsync += e =>
        {
            lock (messages)
            {
                messages.Add(new Received(e.ApplicationMessage.ConvertPayloadToString(), e.ApplicationMessage.Retain, e.ApplicationMessage.QualityOfServiceLevel));
            }
            return Task.CompletedTask;
        };
        await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter).Build());
        return (client, messages);
    }

    static async Task<List<Received>> WaitForAsync(List<Received> messages, int count)
    {
        Assert.True(await Eventually.TrueAsync(() =>
        {
            lock (messages)
            {
                return Task.FromResult(messages.Count >= count);
            }
        }, TimeSpan.FromSeconds(20)), $"{messages.Count} of {count} arrived");
        lock (messages)
        {
            return [.. messages];
        }
    }

    static string Text(int i) => i.ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task Qos0Messages_toAnMqtt311Subscriber_goStraightToItsConnection_wholeAndInOrder()
    {
        var (subscriber, messages) = await SubscribeAsync("direct-sub", new MqttTopicFilterBuilder().WithTopic("direct/#").WithAtLeastOnceQoS().Build());
        using var _ = subscriber;
        using var publisher = await TestMqtt.ConnectAsync("direct-pub", Broker.MqttPort, Pki.Device("direct-pub"), Pki.Ca);
        var traffic = Broker.Services.GetRequiredService<BrokerTraffic>();
        var before = traffic.DirectOut;
        // Payload lengths that need one, two and three bytes of MQTT remaining length.
        var large = new string('x', 20_000);

        for (var i = 0; i < 100; i++)
        {
            await publisher.PublishStringAsync("direct/a", Text(i));
        }
        await publisher.PublishStringAsync("direct/a", new string('y', 200));
        await publisher.PublishStringAsync("direct/a", large);

        var received = await WaitForAsync(messages, 102);
        Assert.Equal(Enumerable.Range(0, 100).Select(Text).Append(new string('y', 200)).Append(large), received.Select(m => m.Payload));
        Assert.All(received, m => Assert.Equal(MqttQualityOfServiceLevel.AtMostOnce, m.Qos));
        Assert.Equal(102, traffic.DirectOut - before);
    }

    [Fact]
    public async Task Qos0AndQos1Messages_fromOnePublisher_arriveInTheOrderSent()
    {
        var (subscriber, messages) = await SubscribeAsync("mixed-sub", new MqttTopicFilterBuilder().WithTopic("mixed/#").WithAtLeastOnceQoS().Build());
        using var _ = subscriber;
        using var publisher = await TestMqtt.ConnectAsync("mixed-pub", Broker.MqttPort, Pki.Device("mixed-pub"), Pki.Ca);
        var traffic = Broker.Services.GetRequiredService<BrokerTraffic>();
        var before = traffic.DirectOut;
        const int count = 600;

        // Sent without waiting for each other: QoS 1 ones take MQTTnet's queue, QoS 0 ones may go direct,
        // and none may overtake an earlier one.
        await Task.WhenAll(Enumerable.Range(0, count).Select(i => publisher.PublishStringAsync("mixed/a", Text(i),
            i % 3 == 0 ? MqttQualityOfServiceLevel.AtLeastOnce : MqttQualityOfServiceLevel.AtMostOnce)));

        var received = await WaitForAsync(messages, count);
        Assert.Equal(Enumerable.Range(0, count).Select(Text), received.Select(m => m.Payload));
        Assert.True(traffic.DirectOut - before > 0, "no QoS 0 message went direct");
    }

    [Fact]
    public async Task RetainedQos0Message_isLiveForAnMqtt311Subscriber_andKeepsItsFlagForAnMqtt5RetainAsPublishedOne()
    {
        var (v311, v311Messages) = await SubscribeAsync("rap-311", new MqttTopicFilterBuilder().WithTopic("rap/#").Build());
        using var _ = v311;
        var (v5, v5Messages) = await SubscribeAsync("rap-5", new MqttTopicFilterBuilder().WithTopic("rap/#").WithRetainAsPublished().Build(), MqttProtocolVersion.V500);
        using var __ = v5;
        using var publisher = await TestMqtt.ConnectAsync("rap-pub", Broker.MqttPort, Pki.Device("rap-pub"), Pki.Ca);
        var traffic = Broker.Services.GetRequiredService<BrokerTraffic>();
        var before = traffic.DirectOut;

        await publisher.PublishStringAsync("rap/a", "kept", retain: true);

        Assert.False(Assert.Single(await WaitForAsync(v311Messages, 1)).Retain); // a live delivery (MQTT 3.1.1 §3.3.1.3)
        Assert.True(Assert.Single(await WaitForAsync(v5Messages, 1)).Retain); // MQTT 5 subscriptions stay with MQTTnet
        Assert.Equal(1, traffic.DirectOut - before);
        await publisher.PublishStringAsync("rap/a", "", retain: true); // clears the retained message
    }

    [Fact]
    public void TryEnterDirect_whileADeliveryThroughTheSessionQueueIsUnsent_isRefused()
    {
        var gate = new OutboundGate(null, maxBacklog: 16);
        Assert.True(gate.TryEnterDirect());
        Assert.True(gate.TryEnter()); // a QoS 1 delivery, through MQTTnet's queue
        Assert.False(gate.TryEnterDirect()); // would overtake it

        gate.Sent(2);

        Assert.True(gate.TryEnterDirect());
    }

    [Fact]
    public void TryEnterDirect_withTheBacklogFull_isRefused()
    {
        var gate = new OutboundGate(null, maxBacklog: 16);
        for (var i = 0; i < 16; i++)
        {
            Assert.True(gate.TryEnterDirect());
        }

        Assert.False(gate.TryEnterDirect());
    }
}
