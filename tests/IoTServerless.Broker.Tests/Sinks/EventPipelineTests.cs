using System.Text;
using IoTServerless.Broker.Sinks;
using IoTServerless.Testing;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTServerless.Broker.Tests.Sinks;

/// <summary>The broker → functions path against a real HTTP sink: batching, back-pressure, no QoS 1 loss.</summary>
public sealed class EventPipelineTests : SinkTestBase
{
    protected override IDictionary<string, string?> SinkSettings() => new Dictionary<string, string?>
    {
        ["Broker:Events:ForwardTopicFilters:0"] = "farmA/sensor/+/data",
        ["Broker:Events:MaxRetryDelayMilliseconds"] = "500",
    };

    [Fact]
    public async Task Qos1Publishes_whileSinkIsDownFor10Seconds_areAllDeliveredOnceItReturns()
    {
        using var device = await TestMqtt.ConnectAsync("soil-001", Broker.MqttPort, Pki.Device("soil-001"), Pki.Ca);
        var port = Sink.Port;
        await Sink.StopAsync();

        const int count = 40;
        var publishes = Enumerable.Range(0, count)
            .Select(i => device.PublishStringAsync("farmA/sensor/soil-001/data", $"{{\"seq\":{i}}}", MqttQualityOfServiceLevel.AtLeastOnce))
            .ToList();
        await Task.Delay(TimeSpan.FromSeconds(10));
        Assert.DoesNotContain(publishes, p => p.IsCompleted); // no PUBACK while the sink is down

        await Sink.StartAsync(port);
        await Task.WhenAll(publishes).WaitAsync(TimeSpan.FromSeconds(30));

        var received = Sink.Messages.Where(m => m.Topic == "farmA/sensor/soil-001/data")
            .Select(m => Encoding.UTF8.GetString(m.Payload)).Distinct().ToHashSet();
        for (var i = 0; i < count; i++)
        {
            Assert.Contains($"{{\"seq\":{i}}}", received);
        }
    }

    [Fact]
    public async Task Qos1PublishWaitingForTheSink_doesNotHoldUpTheDevicesOtherTraffic_andAcksStayInOrder()
    {
        using var device = await TestMqtt.ConnectAsync("soil-004", Broker.MqttPort, Pki.Device("soil-004"), Pki.Ca);
        using var pump = await TestMqtt.ConnectAsync("pump-004", Broker.MqttPort, Pki.Device("pump-004"), Pki.Ca);
        var command = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        pump.ApplicationMessageReceivedAsync += e =>
        {
            command.TrySetResult(e.ApplicationMessage.ConvertPayloadToString());
            return Task.CompletedTask;
        };
        await pump.SubscribeAsync("farmA/pump/pump-004/cmd", MqttQualityOfServiceLevel.AtMostOnce);
        var traffic = Broker.Services.GetRequiredService<BrokerTraffic>();
        var port = Sink.Port;
        await Sink.StopAsync();

        var reading = device.PublishStringAsync("farmA/sensor/soil-004/data", "{\"seq\":1}", MqttQualityOfServiceLevel.AtLeastOnce);
        var notForwarded = device.PublishStringAsync("farmA/other/soil-004", "x", MqttQualityOfServiceLevel.AtLeastOnce);
        await device.PublishStringAsync("farmA/pump/pump-004/cmd", "on", MqttQualityOfServiceLevel.AtMostOnce);

        // The device's later packets are still read and routed while its reading waits for the sink ...
        Assert.Equal("on", await command.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        // ... but no PUBACK goes out ahead of the one waiting (MQTT: PUBACKs in the order of the PUBLISHes).
        await Task.Delay(500);
        Assert.False(reading.IsCompleted);
        Assert.False(notForwarded.IsCompleted);

        await Sink.StartAsync(port);
        await Task.WhenAll(reading, notForwarded).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains(Sink.Messages, m => m.Topic == "farmA/sensor/soil-004/data" && Encoding.UTF8.GetString(m.Payload) == "{\"seq\":1}");
        // A held PUBACK is still counted once it goes out. This broker sent: CONNACK and two PUBACKs
        // to the device; CONNACK, SUBACK and the command to the pump.
        Assert.Equal(6, traffic.PacketsOut);
        Assert.True(traffic.Writes <= traffic.PacketsOut, $"{traffic.Writes} writes for {traffic.PacketsOut} packets");
    }

    [Fact]
    public async Task Qos1Acknowledgements_fromTheShortcutAndFromMqttnet_goOutInTheOrderOfThePublishes()
    {
        // Readings take the broker's shortcut past MQTTnet's receive loop (README "Broker performance");
        // a PUBLISH the shortcut leaves to MQTTnet (here a topic name with a wildcard) is answered by
        // MQTTnet. MQTT 3.1.1 §4.6: PUBACKs go out in the order of their PUBLISHes, whoever answers.
        using var tcp = new System.Net.Sockets.TcpClient();
        await using var ssl = await RawMqtt.ConnectAsync(tcp, Broker.MqttPort, Pki.Device("soil-005"), "soil-005");
        var port = Sink.Port;
        await Sink.StopAsync();

        await ssl.WriteAsync(RawMqtt.Publish("farmA/sensor/soil-005/data", "{\"seq\":1}", qos: 1, packetId: 1)); // waits for the sink
        await ssl.WriteAsync(RawMqtt.Publish("farmA/sensor/+/data", "{\"seq\":2}", qos: 1, packetId: 2)); // refused, answered at once by MQTTnet
        await ssl.WriteAsync(RawMqtt.Publish("farmA/sensor/soil-005/data", "{\"seq\":3}", qos: 1, packetId: 3));
        await ssl.FlushAsync();
        await Task.Delay(1000);
        await Sink.StartAsync(port);

        var acknowledgements = new byte[12];
        Assert.Equal(12, await RawMqtt.ReadAtLeastAsync(ssl, acknowledgements, TimeSpan.FromSeconds(30)));
        Assert.Equal(new byte[] { 0x40, 2, 0, 1, 0x40, 2, 0, 2, 0x40, 2, 0, 3 }, acknowledgements);
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(Sink.Messages.Count(m => m.ClientId == "soil-005") == 2), TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task ManyMessages_arePackedIntoFewerBatchEvents()
    {
        using var device = await TestMqtt.ConnectAsync("soil-002", Broker.MqttPort, Pki.Device("soil-002"), Pki.Ca);
        const int count = 300;
        for (var i = 0; i < count; i++)
        {
            await device.PublishStringAsync("farmA/sensor/soil-002/data", $"{{\"n\":{i}}}", MqttQualityOfServiceLevel.AtMostOnce);
        }
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(Sink.Messages.Count(m => m.ClientId == "soil-002") == count), TimeSpan.FromSeconds(15)));
        var batches = Sink.Events.Count(e => e.Type == Core.Events.EventTypes.MessageBatch);
        Assert.True(batches < count / 5, $"{count} messages arrived in {batches} events");
        var message = Sink.Messages.First(m => m.ClientId == "soil-002");
        Assert.Equal(64, message.Principal!.Length); // the certificate id (SHA-256 hex)
        Assert.True(message.Timestamp > DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds());
    }

    [Fact]
    public async Task TopicsNoRuleNeeds_doNotLeaveTheBroker()
    {
        using var device = await TestMqtt.ConnectAsync("soil-003", Broker.MqttPort, Pki.Device("soil-003"), Pki.Ca);
        await device.PublishStringAsync("farmA/other/soil-003", "x", MqttQualityOfServiceLevel.AtLeastOnce);
        await device.PublishStringAsync("farmA/sensor/soil-003/data", "y", MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(Sink.Messages.Any(m => m.Topic == "farmA/sensor/soil-003/data")), TimeSpan.FromSeconds(10)));
        Assert.DoesNotContain(Sink.Messages, m => m.Topic == "farmA/other/soil-003");
    }

    [Fact]
    public async Task ConnectAndDisconnect_emitLifecycleEventsToSinkAndSubscribers()
    {
        using var watcher = await TestMqtt.ConnectAsync("watcher", Broker.MqttPort, Pki.Device("watcher"), Pki.Ca);
        var seen = new List<string>();
        watcher.ApplicationMessageReceivedAsync += e =>
        {
            lock (seen)
            {
                seen.Add(e.ApplicationMessage.Topic);
            }
            return Task.CompletedTask;
        };
        await watcher.SubscribeAsync("$aws/events/presence/+/pump-001", MqttQualityOfServiceLevel.AtLeastOnce);

        var device = await TestMqtt.ConnectAsync("pump-001", Broker.MqttPort, Pki.Device("pump-001"), Pki.Ca);
        await device.DisconnectAsync();
        device.Dispose();

        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(Sink.Messages.Count(m => m.Topic.EndsWith("/pump-001", StringComparison.Ordinal)) >= 2), TimeSpan.FromSeconds(10)));
        var connected = System.Text.Json.JsonDocument.Parse(Sink.Messages.First(m => m.Topic == "$aws/events/presence/connected/pump-001").Payload).RootElement;
        Assert.Equal("pump-001", connected.GetProperty("clientId").GetString());
        Assert.Equal("connected", connected.GetProperty("eventType").GetString());
        Assert.Equal("127.0.0.1", connected.GetProperty("ipAddress").GetString());
        Assert.Equal(64, connected.GetProperty("principalIdentifier").GetString()!.Length);
        Assert.True(connected.GetProperty("versionNumber").GetInt64() >= 1);
        Assert.True(connected.GetProperty("timestamp").GetInt64() > 1_700_000_000_000);
        var disconnected = System.Text.Json.JsonDocument.Parse(Sink.Messages.First(m => m.Topic == "$aws/events/presence/disconnected/pump-001").Payload).RootElement;
        Assert.Equal("CLIENT_INITIATED_DISCONNECT", disconnected.GetProperty("disconnectReason").GetString());
        Assert.True(disconnected.GetProperty("clientInitiatedDisconnect").GetBoolean());
        Assert.Equal(connected.GetProperty("sessionIdentifier").GetString(), disconnected.GetProperty("sessionIdentifier").GetString());

        Assert.True(await Eventually.TrueAsync(() =>
        {
            lock (seen)
            {
                return Task.FromResult(seen.Contains("$aws/events/presence/connected/pump-001") && seen.Contains("$aws/events/presence/disconnected/pump-001"));
            }
        }, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task DevicePublishingALifecycleEvent_isRefused()
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(TestMqtt.Options("forger", Broker.MqttPort, Pki.Device("forger"), Pki.Ca, MQTTnet.Formatter.MqttProtocolVersion.V500));
        var result = await client.PublishStringAsync("$aws/events/presence/connected/pump-009", "{\"clientId\":\"pump-009\"}", MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, result.ReasonCode);
        await Task.Delay(300);
        Assert.DoesNotContain(Sink.Messages, m => m.Topic.EndsWith("/pump-009", StringComparison.Ordinal));
        client.Dispose();
    }

    [Theory]
    [InlineData("$aws/things/pump-010/shadow/update/accepted")]
    [InlineData("$aws/things/pump-010/shadow/update/delta")]
    [InlineData("$aws/things/pump-010/shadow/name/irrigation/update/documents")]
    [InlineData("$aws/things/pump-010/shadow/bogus")]
    public async Task DevicePublishingAShadowAnswerOrNotification_isRefused(string topic)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(TestMqtt.Options("forger-2", Broker.MqttPort, Pki.Device("forger-2"), Pki.Ca, MQTTnet.Formatter.MqttProtocolVersion.V500));
        var refused = await client.PublishStringAsync(topic, "{\"state\":{}}", MqttQualityOfServiceLevel.AtLeastOnce);
        var request = await client.PublishStringAsync("$aws/things/pump-010/shadow/name/irrigation/update", "{\"state\":{}}", MqttQualityOfServiceLevel.AtLeastOnce);

        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, refused.ReasonCode);
        Assert.True(request.IsSuccess, request.ReasonCode.ToString());
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(Sink.Messages.Any(m => m.Topic == "$aws/things/pump-010/shadow/name/irrigation/update")), TimeSpan.FromSeconds(10)));
        Assert.DoesNotContain(Sink.Messages, m => m.Topic == topic);
        client.Dispose();
    }
}
