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
/// QoS 0 and QoS 1 PUBLISH packets from MQTT 3.1.x clients are taken on the socket thread (<see cref="PublishShortcut"/>),
/// and QoS 0 and QoS 1 deliveries to them go straight from the publisher's thread to the subscriber's pump
/// (README "Broker performance"): what clients see must not change.
/// </summary>
public sealed class DirectDeliveryTests : BrokerTestBase
{
    sealed record Received(string Payload, bool Retain, MqttQualityOfServiceLevel Qos);

    async Task<(IMqttClient Client, List<Received> Messages)> SubscribeAsync(string clientId, MqttTopicFilter filter, MqttProtocolVersion version = MqttProtocolVersion.V311, bool cleanSession = true)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(TestMqtt.Options(clientId, Broker.MqttPort, Pki.Device(clientId), Pki.Ca, version, cleanSession));
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

        // Either may go direct or, when the subscriber's backlog is full, through MQTTnet's queue, and
        // none may overtake an earlier one. Awaited one by one, so the client sends them in order.
        for (var i = 0; i < count; i++)
        {
            await publisher.PublishStringAsync("mixed/a", Text(i), i % 3 == 0 ? MqttQualityOfServiceLevel.AtLeastOnce : MqttQualityOfServiceLevel.AtMostOnce);
        }

        var received = await WaitForAsync(messages, count);
        Assert.Equal(Enumerable.Range(0, count).Select(Text), received.Select(m => m.Payload));
        Assert.True(traffic.DirectOut - before > 0, "no message went direct");
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
    public async Task RetainedMessages_deliveredOnSubscribe_keepTheirRetainFlag_andLiveOnesDoNot()
    {
        using var publisher = await TestMqtt.ConnectAsync("kept-pub", Broker.MqttPort, Pki.Device("kept-pub"), Pki.Ca);
        await publisher.PublishStringAsync("kept/pump-1/cmd", "off", MqttQualityOfServiceLevel.AtMostOnce, retain: true);
        await publisher.PublishStringAsync("kept/pump-2/cmd", "on", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);
        using var tcp = new System.Net.Sockets.TcpClient();
        await using var subscriber = await RawMqtt.ConnectAsync(tcp, Broker.MqttPort, Pki.Device("kept-sub"), "kept-sub");

        byte[] subscribe = [0x82, 0x0B, 0x00, 0x07, 0x00, 0x06, .. "kept/#"u8, 0x01]; // one filter at QoS 1
        await subscriber.WriteAsync(subscribe);
        // MQTTnet's send loop takes its queues in turn, so the SUBACK may come before or after them (MQTT 3.1.1 §3.8.4 allows both).
        var packets = new[] { await ReadPacketAsync(subscriber), await ReadPacketAsync(subscriber), await ReadPacketAsync(subscriber) }.OrderBy(p => p.Header).ToArray();
        var traffic = Broker.Services.GetRequiredService<BrokerTraffic>();
        var dispatched = traffic.DispatchedDirect;
        await publisher.PublishStringAsync("kept/pump-1/cmd", "on", MqttQualityOfServiceLevel.AtMostOnce, retain: true);
        var live = await ReadPacketAsync(subscriber);
        using var late = await TestMqtt.ConnectAsync("kept-late", Broker.MqttPort, Pki.Device("kept-late"), Pki.Ca);
        var lateMessages = new List<string>();
        late.ApplicationMessageReceivedAsync += e =>
        {
            lock (lateMessages)
            {
                lateMessages.Add(e.ApplicationMessage.Retain + " " + e.ApplicationMessage.ConvertPayloadToString());
            }
            return Task.CompletedTask;
        };
        await late.SubscribeAsync("kept/pump-1/cmd");

        Assert.Equal(0x31, packets[0].Header); // PUBLISH QoS 0, RETAIN 1
        Assert.EndsWith("kept/pump-1/cmdoff", packets[0].Body);
        Assert.Equal(0x33, packets[1].Header); // PUBLISH QoS 1 (the lower of published and granted), RETAIN 1
        Assert.EndsWith("on", packets[1].Body);
        Assert.Equal(0x90, packets[2].Header); // SUBACK
        Assert.Equal(0x30, live.Header); // a live delivery: RETAIN 0
        Assert.EndsWith("kept/pump-1/cmdon", live.Body);
        Assert.Equal(1, traffic.DispatchedDirect - dispatched); // through the subscriber index, kept all the same:
        Assert.True(await Eventually.TrueAsync(() => { lock (lateMessages) { return Task.FromResult(lateMessages.Count > 0); } }, TimeSpan.FromSeconds(10)));
        lock (lateMessages)
        {
            Assert.Equal(["True on"], lateMessages); // the new retained message, for a later subscriber
        }
        await publisher.PublishStringAsync("kept/pump-1/cmd", "", retain: true);
        await publisher.PublishStringAsync("kept/pump-2/cmd", "", retain: true);
    }

    [Fact]
    public async Task RetainedMessages_areKeptByTheBroker_andMqttnetStoresNone()
    {
        using var publisher = await TestMqtt.ConnectAsync("store-pub", Broker.MqttPort, Pki.Device("store-pub"), Pki.Ca);
        var store = Broker.Services.GetRequiredService<RetainedMessages>();
        var before = store.Count;

        await publisher.PublishStringAsync("store/pump-1/cmd", "on", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);
        await publisher.PublishStringAsync("store/pump-2/cmd", "on", MqttQualityOfServiceLevel.AtMostOnce, retain: true);
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(store.Count == before + 2), TimeSpan.FromSeconds(10)));

        // MQTTnet would compare every SUBSCRIBE's filters with every message it stores.
        Assert.Empty(await Broker.Services.GetRequiredService<MQTTnet.Server.MqttServer>().GetRetainedMessagesAsync());
        await publisher.PublishStringAsync("store/pump-1/cmd", "", retain: true);
        await publisher.PublishStringAsync("store/pump-2/cmd", "", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);
        Assert.Equal(before, store.Count);
    }

    [Fact]
    public async Task RetainedMessages_forAnMqtt5Subscription_followItsRetainHandling()
    {
        using var publisher = await TestMqtt.ConnectAsync("handling-pub", Broker.MqttPort, Pki.Device("handling-pub"), Pki.Ca);
        await publisher.PublishStringAsync("handling/pump-1/cmd", "on", MqttQualityOfServiceLevel.AtLeastOnce, retain: true);
        var (never, neverMessages) = await SubscribeAsync("handling-never", new MqttTopicFilterBuilder().WithTopic("handling/#")
            .WithRetainHandling(MqttRetainHandling.DoNotSendOnSubscribe).Build(), MqttProtocolVersion.V500);
        using var _ = never;
        var ifNew = new MqttTopicFilterBuilder().WithTopic("handling/#").WithAtLeastOnceQoS().WithRetainHandling(MqttRetainHandling.SendAtSubscribeIfNewSubscriptionOnly).Build();
        var (once, onceMessages) = await SubscribeAsync("handling-once", ifNew, MqttProtocolVersion.V500);
        using var __ = once;

        Assert.Equal(new Received("on", true, MqttQualityOfServiceLevel.AtLeastOnce), Assert.Single(await WaitForAsync(onceMessages, 1)));
        await once.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(ifNew).Build()); // the same subscription again: not new
        await publisher.PublishStringAsync("handling/pump-1/live", "live"); // a marker after which nothing else may come
        Assert.Equal(["on", "live"], (await WaitForAsync(onceMessages, 2)).Select(m => m.Payload));
        Assert.Equal("live", Assert.Single(await WaitForAsync(neverMessages, 1)).Payload);
        await publisher.PublishStringAsync("handling/pump-1/cmd", "", retain: true);
    }

    /// <summary>The next packet on a raw connection: its first byte and the rest after the length, as text.</summary>
    static async Task<(int Header, string Body)> ReadPacketAsync(System.Net.Security.SslStream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var one = new byte[1];
        await stream.ReadExactlyAsync(one, timeout.Token);
        var header = one[0];
        int length = 0, shift = 0;
        do
        {
            await stream.ReadExactlyAsync(one, timeout.Token);
            length |= (one[0] & 0x7F) << shift;
            shift += 7;
        }
        while ((one[0] & 0x80) != 0);
        var body = new byte[length];
        await stream.ReadExactlyAsync(body, timeout.Token);
        return (header, System.Text.Encoding.Latin1.GetString(body));
    }

    [Theory]
    [InlineData(MqttQualityOfServiceLevel.AtMostOnce)]
    [InlineData(MqttQualityOfServiceLevel.AtLeastOnce)]
    public async Task Publishes_takenPastMqttnetsReceiveLoop_keepTheClientAlive(MqttQualityOfServiceLevel qos)
    {
        var (subscriber, messages) = await SubscribeAsync("alive-sub", new MqttTopicFilterBuilder().WithTopic("alive/#").Build());
        using var _ = subscriber;
        var options = TestMqtt.Options("alive-pub", Broker.MqttPort, Pki.Device("alive-pub"), Pki.Ca);
        options.KeepAlivePeriod = TimeSpan.FromSeconds(1); // the broker drops it after 1.5 s without a packet
        using var publisher = new MqttClientFactory().CreateMqttClient();
        await publisher.ConnectAsync(options);
        var traffic = Broker.Services.GetRequiredService<BrokerTraffic>();
        var before = traffic.DirectIn;

        // 4 s of readings, 10 a second: the client has no reason to send PINGREQ.
        for (var i = 0; i < 40; i++)
        {
            await publisher.PublishStringAsync("alive/a", Text(i), qos);
            await Task.Delay(100);
        }

        Assert.True(publisher.IsConnected, "the broker dropped a client that kept publishing");
        Assert.Equal(Enumerable.Range(0, 40).Select(Text), (await WaitForAsync(messages, 40)).Select(m => m.Payload));
        Assert.Equal(40, traffic.DirectIn - before); // every one went past MQTTnet's loop, whose keep-alive monitor still counted them
    }

    [Fact]
    public async Task Qos1Deliveries_acknowledgedBySubscriber_areNotDeliveredAgainWhenItsSessionResumes()
    {
        // The subscriber's PUBACKs are taken past MQTTnet's loop and handed to its session: one lost
        // there would leave the message unacknowledged, and MQTTnet sends it again on reconnect.
        var filter = new MqttTopicFilterBuilder().WithTopic("acked/#").WithAtLeastOnceQoS().Build();
        var (subscriber, messages) = await SubscribeAsync("acked-sub", filter, cleanSession: false);
        using (var publisher = await TestMqtt.ConnectAsync("acked-pub", Broker.MqttPort, Pki.Device("acked-pub"), Pki.Ca))
        {
            for (var i = 0; i < 10; i++)
            {
                await publisher.PublishStringAsync("acked/a", Text(i), MqttQualityOfServiceLevel.AtLeastOnce);
            }
        }
        await WaitForAsync(messages, 10);
        await subscriber.DisconnectAsync(); // after its PUBACKs, on the same connection
        subscriber.Dispose();

        var (resumed, redelivered) = await SubscribeAsync("acked-sub", filter, cleanSession: false);
        using var _ = resumed;
        using (var publisher = await TestMqtt.ConnectAsync("acked-pub", Broker.MqttPort, Pki.Device("acked-pub"), Pki.Ca))
        {
            await publisher.PublishStringAsync("acked/a", "after", MqttQualityOfServiceLevel.AtLeastOnce);
        }

        Assert.Equal(["after"], (await WaitForAsync(redelivered, 1)).Select(m => m.Payload)); // nothing from before the reconnect
    }

    [Fact]
    public async Task Qos1Deliveries_notAcknowledgedBySubscriber_areDeliveredAgainWhenItsSessionResumes()
    {
        // Direct QoS 1 deliveries are recorded in the subscriber's MQTTnet session as its own queue
        // records them: a persistent session that did not acknowledge them gets them again.
        var filter = new MqttTopicFilterBuilder().WithTopic("unacked/#").WithAtLeastOnceQoS().Build();
        var subscriber = new MqttClientFactory().CreateMqttClient();
        await subscriber.ConnectAsync(TestMqtt.Options("unacked-sub", Broker.MqttPort, Pki.Device("unacked-sub"), Pki.Ca, MqttProtocolVersion.V311, cleanSession: false));
        var withheld = new List<Received>();
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            e.AutoAcknowledge = false; // no PUBACK
            lock (withheld)
            {
                withheld.Add(new Received(e.ApplicationMessage.ConvertPayloadToString(), e.ApplicationMessage.Retain, e.ApplicationMessage.QualityOfServiceLevel));
            }
            return Task.CompletedTask;
        };
        await subscriber.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter).Build());
        var traffic = Broker.Services.GetRequiredService<BrokerTraffic>();
        var before = traffic.DirectOut;
        using (var publisher = await TestMqtt.ConnectAsync("unacked-pub", Broker.MqttPort, Pki.Device("unacked-pub"), Pki.Ca))
        {
            for (var i = 0; i < 5; i++)
            {
                await publisher.PublishStringAsync("unacked/a", Text(i), MqttQualityOfServiceLevel.AtLeastOnce);
            }
        }
        Assert.Equal(Enumerable.Range(0, 5).Select(Text), (await WaitForAsync(withheld, 5)).Select(m => m.Payload));
        Assert.Equal(5, traffic.DirectOut - before); // past MQTTnet's queue and send loop
        await subscriber.DisconnectAsync();
        subscriber.Dispose();

        var (resumed, redelivered) = await SubscribeAsync("unacked-sub", filter, cleanSession: false);
        using var _ = resumed;

        var again = await WaitForAsync(redelivered, 5);
        Assert.Equal(Enumerable.Range(0, 5).Select(Text), again.Select(m => m.Payload));
        Assert.All(again, m => Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, m.Qos));
    }

    [Fact]
    public async Task Qos1Message_toAQos0Subscription_isDeliveredAtQos0()
    {
        var (subscriber, messages) = await SubscribeAsync("granted-sub", new MqttTopicFilterBuilder().WithTopic("granted/#").WithAtMostOnceQoS().Build());
        using var _ = subscriber;
        using var publisher = await TestMqtt.ConnectAsync("granted-pub", Broker.MqttPort, Pki.Device("granted-pub"), Pki.Ca);

        await publisher.PublishStringAsync("granted/a", "low", MqttQualityOfServiceLevel.AtLeastOnce);

        Assert.Equal(MqttQualityOfServiceLevel.AtMostOnce, Assert.Single(await WaitForAsync(messages, 1)).Qos);
    }

    [Fact]
    public async Task Publish_toOneOfManySubscribedSessions_reachesExactlyTheSessionsWhoseFiltersMatch_throughTheIndex()
    {
        var subscribers = new List<(IMqttClient Client, List<Received> Messages)>();
        for (var i = 0; i < 12; i++)
        {
            subscribers.Add(await SubscribeAsync($"idx-{i}", new MqttTopicFilterBuilder().WithTopic($"idx/{i}/state").WithAtLeastOnceQoS().Build()));
        }
        var (anyZone, anyZoneMessages) = await SubscribeAsync("idx-any", new MqttTopicFilterBuilder().WithTopic("idx/+/state").WithAtLeastOnceQoS().Build());
        // Two filters that both match: one delivery.
        var (twice, twiceMessages) = await SubscribeAsync("idx-twice", new MqttTopicFilterBuilder().WithTopic("idx/3/#").WithAtLeastOnceQoS().Build());
        await twice.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("idx/3/state").Build());
        using var publisher = await TestMqtt.ConnectAsync("idx-pub", Broker.MqttPort, Pki.Device("idx-pub"), Pki.Ca);
        var traffic = Broker.Services.GetRequiredService<BrokerTraffic>();
        var before = traffic.DispatchedDirect;

        await publisher.PublishStringAsync("idx/3/state", "q0");
        await publisher.PublishStringAsync("idx/3/state", "q1", MqttQualityOfServiceLevel.AtLeastOnce);
        // Then one message to every other subscriber: it comes after anything this publisher sent it before.
        for (var i = 0; i < subscribers.Count; i++)
        {
            await publisher.PublishStringAsync($"idx/{i}/state", $"last-{i}");
        }

        Assert.Equal(["q0", "q1", "last-3"], (await WaitForAsync(subscribers[3].Messages, 3)).Select(m => m.Payload));
        Assert.Equal([MqttQualityOfServiceLevel.AtMostOnce, MqttQualityOfServiceLevel.AtLeastOnce], subscribers[3].Messages.Take(2).Select(m => m.Qos));
        foreach (var i in Enumerable.Range(0, subscribers.Count).Where(i => i != 3))
        {
            Assert.Equal([$"last-{i}"], (await WaitForAsync(subscribers[i].Messages, 1)).Select(m => m.Payload));
        }
        Assert.Equal(14, (await WaitForAsync(anyZoneMessages, 14)).Count);
        Assert.Equal(["q0", "q1", "last-3"], (await WaitForAsync(twiceMessages, 3)).Select(m => m.Payload));
        Assert.Equal(14, traffic.DispatchedDirect - before); // none took MQTTnet's check of every session
        foreach (var (client, _) in subscribers.Append((anyZone, anyZoneMessages)).Append((twice, twiceMessages)))
        {
            client.Dispose();
        }
    }

    [Fact]
    public async Task Publish_withAnMqtt5SessionAmongTheMatchingOnes_isDispatchedByMqttnet_andReachesEveryone()
    {
        var filter = new MqttTopicFilterBuilder().WithTopic("mixed/#").WithAtLeastOnceQoS().Build();
        var (v3, v3Messages) = await SubscribeAsync("mixed-v3", filter);
        using var _ = v3;
        var (v5, v5Messages) = await SubscribeAsync("mixed-v5", filter, MqttProtocolVersion.V500);
        using var __ = v5;
        using var publisher = await TestMqtt.ConnectAsync("mixed-pub", Broker.MqttPort, Pki.Device("mixed-pub"), Pki.Ca);
        var traffic = Broker.Services.GetRequiredService<BrokerTraffic>();
        var before = traffic.DispatchedDirect;

        await publisher.PublishStringAsync("mixed/a", "one");
        await publisher.PublishStringAsync("mixed/a", "two", MqttQualityOfServiceLevel.AtLeastOnce);

        Assert.Equal(["one", "two"], (await WaitForAsync(v3Messages, 2)).Select(m => m.Payload));
        Assert.Equal(["one", "two"], (await WaitForAsync(v5Messages, 2)).Select(m => m.Payload));
        Assert.Equal(0, traffic.DispatchedDirect - before);
    }

    [Fact]
    public async Task Qos1Publish_toAnOfflinePersistentSession_isKeptUntilItReconnects()
    {
        var filter = new MqttTopicFilterBuilder().WithTopic("away/#").WithAtLeastOnceQoS().Build();
        var (subscriber, _) = await SubscribeAsync("away-sub", filter, cleanSession: false);
        await subscriber.DisconnectAsync();
        subscriber.Dispose();
        using (var publisher = await TestMqtt.ConnectAsync("away-pub", Broker.MqttPort, Pki.Device("away-pub"), Pki.Ca))
        {
            await publisher.PublishStringAsync("away/a", "while-away", MqttQualityOfServiceLevel.AtLeastOnce);
        }

        var (resumed, messages) = await SubscribeAsync("away-sub", filter, cleanSession: false);
        using var __ = resumed;

        Assert.Equal("while-away", Assert.Single(await WaitForAsync(messages, 1)).Payload);
    }

    [Fact]
    public async Task Publish_afterTheSubscriberUnsubscribed_orStartedACleanSession_doesNotReachIt()
    {
        var (unsubscribed, unsubscribedMessages) = await SubscribeAsync("gone-unsub", new MqttTopicFilterBuilder().WithTopic("gone/a").Build());
        using var _ = unsubscribed;
        await unsubscribed.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("gone/last").Build());
        await unsubscribed.UnsubscribeAsync(new MqttClientUnsubscribeOptionsBuilder().WithTopicFilter("gone/a").Build());
        var (restarted, _) = await SubscribeAsync("gone-clean", new MqttTopicFilterBuilder().WithTopic("gone/b").Build(), cleanSession: false);
        await restarted.DisconnectAsync();
        restarted.Dispose();
        var (clean, cleanMessages) = await SubscribeAsync("gone-clean", new MqttTopicFilterBuilder().WithTopic("gone/last").Build(), cleanSession: true);
        using var __ = clean;
        using var publisher = await TestMqtt.ConnectAsync("gone-pub", Broker.MqttPort, Pki.Device("gone-pub"), Pki.Ca);

        await publisher.PublishStringAsync("gone/a", "not-for-you");
        await publisher.PublishStringAsync("gone/b", "not-for-you-either");
        await publisher.PublishStringAsync("gone/last", "last");

        Assert.Equal(["last"], (await WaitForAsync(unsubscribedMessages, 1)).Select(m => m.Payload));
        Assert.Equal(["last"], (await WaitForAsync(cleanMessages, 1)).Select(m => m.Payload));
        Assert.Equal(2, Broker.Services.GetRequiredService<SubscriberIndex>().Count); // gone/last twice: nothing left of the others
    }

    [Fact]
    public async Task Publishes_toTopicsInTurn_fromOneConnection_eachArriveUnderItsOwnTopic()
    {
        // The shortcut takes a connection's last topic again when the bytes are the same: never for another one.
        using var subscriber = new MqttClientFactory().CreateMqttClient();
        await subscriber.ConnectAsync(TestMqtt.Options("turns-sub", Broker.MqttPort, Pki.Device("turns-sub"), Pki.Ca, MqttProtocolVersion.V311, true));
        var topics = new List<string>();
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            lock (topics)
            {
                topics.Add($"{e.ApplicationMessage.Topic}={e.ApplicationMessage.ConvertPayloadToString()}");
            }
            return Task.CompletedTask;
        };
        await subscriber.SubscribeAsync("turns/#");
        using var publisher = await TestMqtt.ConnectAsync("turns-pub", Broker.MqttPort, Pki.Device("turns-pub"), Pki.Ca);
        string[] sent = ["turns/a", "turns/a", "turns/b", "turns/a", "turns/c/d", "turns/\u00e4", "turns/\u00e4", "turns/a"];

        for (var i = 0; i < sent.Length; i++)
        {
            await publisher.PublishStringAsync(sent[i], Text(i));
        }

        Assert.True(await Eventually.TrueAsync(() =>
        {
            lock (topics)
            {
                return Task.FromResult(topics.Count >= sent.Length);
            }
        }, TimeSpan.FromSeconds(20)));
        lock (topics)
        {
            Assert.Equal(sent.Select((t, i) => $"{t}={i}"), topics);
        }
    }

    [Fact]
    public void TryParse_withTheConnectionsLastTopic_takesItOnlyForTheSameBytes()
    {
        static MqttApplicationMessage? Parse(string topic, string? previous)
            => PublishShortcut.TryParse(new System.Buffers.ReadOnlySequence<byte>(PublishEncoder.Encode(topic, new System.Buffers.ReadOnlySequence<byte>([1, 2, 3]), 0)),
                qos1: false, previous, out var message, out _, out _, out _, out _) ? message : null;
        var last = string.Concat("farm/s1/", "data"); // not the interned literal

        Assert.Same(last, Parse("farm/s1/data", last)!.Topic);
        Assert.Equal(new byte[] { 1, 2, 3 }, System.Buffers.BuffersExtensions.ToArray(Parse("farm/s1/data", last)!.Payload));
        var other = Parse("farm/s1/datb", last)!.Topic;
        Assert.Equal("farm/s1/datb", other);
        Assert.NotSame(last, other);
        Assert.Equal("farm/s1/dat", Parse("farm/s1/dat", last)!.Topic);
        Assert.Null(Parse("farm/s1/+", last)); // still checked: a wildcard is no topic name
        var accented = string.Concat("f\u00e4rm/", "s1");
        Assert.Equal(accented, Parse(accented, accented)!.Topic); // not ASCII: decoded as before
    }

    [Fact]
    public void TryTakeAcknowledgement_givesDirectPubacksInOrder_eachOnceItsMessageIsAccepted()
    {
        var gate = new OutboundGate(null, maxBacklog: 16);
        var first = new TaskCompletionSource();
        gate.AcknowledgeDirectly(1, first.Task);
        gate.AcknowledgeDirectly(2, Task.CompletedTask);
        gate.AcknowledgeDirectly(3, Task.FromException(new InvalidOperationException("the sink refused it")));

        Assert.False(gate.TryTakeAcknowledgement(out _, out _)); // 1 waits for the event sink, and 2 may not overtake it
        Assert.Same(first.Task, gate.PendingAcknowledgement());
        first.SetResult();
        Assert.True(gate.TryTakeAcknowledgement(out var packetId, out var failed));
        Assert.Equal((1, false), (packetId, failed));
        Assert.True(gate.TryTakeAcknowledgement(out packetId, out failed));
        Assert.Equal((2, false), (packetId, failed));
        Assert.True(gate.TryTakeAcknowledgement(out packetId, out failed));
        Assert.Equal((3, true), (packetId, failed)); // no PUBACK: the connection closes
        Assert.False(gate.TryTakeAcknowledgement(out _, out _));
        Assert.Null(gate.PendingAcknowledgement());
    }

    [Fact]
    public void DirectPubacks_ofAConnectionThatPublishesForLong_allocateNothingEach()
    {
        // A gateway that forwards QoS 1 readings all day: its PUBACK queue must reuse its slots (a peeked
        // ConcurrentQueue does not: a new segment every 32 PUBACKs).
        var gate = new OutboundGate(null, maxBacklog: 16);
        for (var i = 0; i < 1_000; i++)
        {
            gate.AcknowledgeDirectly((ushort)(i % 65_535 + 1), Task.CompletedTask);
            gate.TryTakeAcknowledgement(out _, out _);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var outOfOrder = 0;
        for (var i = 0; i < 200_000; i++)
        {
            gate.AcknowledgeDirectly((ushort)(i % 65_535 + 1), Task.CompletedTask);
            if (!gate.TryTakeAcknowledgement(out var packetId, out _) || packetId != i % 65_535 + 1)
            {
                outOfOrder++;
            }
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, outOfOrder);
        Assert.True(allocated < 64 * 1024, $"{allocated} bytes for 200,000 PUBACKs");
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
