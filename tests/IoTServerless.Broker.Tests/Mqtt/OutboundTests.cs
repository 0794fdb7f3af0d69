using System.Net;
using IoTServerless.Broker.Sinks;
using IoTServerless.Testing;
using MQTTnet;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet.Protocol;

namespace IoTServerless.Broker.Tests.Mqtt;

/// <summary>The outbound path: coalesced TLS writes, and the traffic it reports as metrics.</summary>
public sealed class OutboundTests : BrokerTestBase
{
    async Task<(IMqttClient Client, List<string> Payloads)> SubscribeAsync(string clientId, string filter)
    {
        var client = await TestMqtt.ConnectAsync(clientId, Broker.MqttPort, Pki.Device(clientId), Pki.Ca);
        var payloads = new List<string>();
        client.ApplicationMessageReceivedAsync += e =>
        {
            lock (payloads)
            {
                payloads.Add(e.ApplicationMessage.ConvertPayloadToString());
            }
            return Task.CompletedTask;
        };
        await client.SubscribeAsync(filter, MqttQualityOfServiceLevel.AtLeastOnce);
        return (client, payloads);
    }

    [Fact]
    public async Task Burst_toOneSubscriber_arrivesWholeAndInOrder_inFewerTlsWritesThanPackets()
    {
        const int count = 1000;
        var (subscriber, payloads) = await SubscribeAsync("burst-sub", "burst/#");
        using var _ = subscriber;
        using var publisher = await TestMqtt.ConnectAsync("burst-pub", Broker.MqttPort, Pki.Device("burst-pub"), Pki.Ca);
        var traffic = Broker.Services.GetRequiredService<BrokerTraffic>();
        var before = (traffic.PacketsOut, traffic.Writes);

        await Task.WhenAll(Enumerable.Range(0, count).Select(i => publisher.PublishStringAsync("burst/a", i.ToString(System.Globalization.CultureInfo.InvariantCulture), MqttQualityOfServiceLevel.AtLeastOnce)));

        Assert.True(await Eventually.TrueAsync(() =>
        {
            lock (payloads)
            {
                return Task.FromResult(payloads.Count >= count);
            }
        }, TimeSpan.FromSeconds(20)), $"{payloads.Count} of {count} arrived");
        lock (payloads)
        {
            Assert.Equal(Enumerable.Range(0, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), payloads);
        }
        var packets = traffic.PacketsOut - before.PacketsOut;
        var writes = traffic.Writes - before.Writes;
        Assert.True(packets >= count, $"{packets} packets counted for {count} deliveries");
        Assert.True(writes < packets, $"{packets} packets took {writes} TLS writes: nothing was coalesced");
    }

    [Fact]
    public async Task Publishes_arrivingInOneRead_goToTheirSubscriberInOneTlsWrite()
    {
        const int count = 40;
        using var subscriber = await TestMqtt.ConnectAsync("one-read-sub", Broker.MqttPort, Pki.Device("one-read-sub"), Pki.Ca);
        var received = new System.Collections.Concurrent.ConcurrentQueue<string>();
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            received.Enqueue(e.ApplicationMessage.ConvertPayloadToString());
            return Task.CompletedTask;
        };
        await subscriber.SubscribeAsync("one-read/#", MqttQualityOfServiceLevel.AtMostOnce);
        using var tcp = new System.Net.Sockets.TcpClient();
        await using var publisher = await RawMqtt.ConnectAsync(tcp, Broker.MqttPort, Pki.Device("one-read-pub"), "one-read-pub");
        var traffic = Broker.Services.GetRequiredService<BrokerTraffic>();
        var before = (traffic.PublishesOut, traffic.Writes);

        // One TLS record, so the broker reads all of them at once (a gateway forwarding a backlog).
        await publisher.WriteAsync(Enumerable.Range(0, count).SelectMany(i => RawMqtt.Publish("one-read/soil", $"reading-{i}", qos: 0)).ToArray());
        await publisher.FlushAsync();

        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(received.Count >= count), TimeSpan.FromSeconds(10)), $"{received.Count} of {count} arrived");
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"reading-{i}"), received);
        Assert.Equal(count, traffic.PublishesOut - before.PublishesOut);
        Assert.Equal(1, traffic.Writes - before.Writes);
    }

    [Fact]
    public async Task Metrics_areServedInPrometheusFormat_onTheApiListenerOnly()
    {
        var (subscriber, payloads) = await SubscribeAsync("metrics-sub", "metrics/#");
        using var _ = subscriber;
        using var publisher = await TestMqtt.ConnectAsync("metrics-pub", Broker.MqttPort, Pki.Device("metrics-pub"), Pki.Ca);
        await publisher.PublishStringAsync("metrics/a", "reading", MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(payloads.Count == 1), TimeSpan.FromSeconds(10)));

        using var http = new HttpClient();
        var text = await http.GetStringAsync(new Uri(Broker.ApiUrl, "metrics"));

        // Every broker in this test process shares the meter's name, so the scrape may sum several
        // brokers: check the names and shapes there, and this broker's own counts directly.
        foreach (var name in new[]
        {
            "iotserverless_broker_messages_received_total", "iotserverless_broker_messages_sent_total", "iotserverless_broker_messages_sent_direct_total", "iotserverless_broker_messages_received_direct_total",
            "iotserverless_broker_bytes_received_bytes_total", "iotserverless_broker_bytes_sent_bytes_total",
            "iotserverless_broker_packets_sent_total", "iotserverless_broker_writes_total", "iotserverless_broker_connections",
            "iotserverless_broker_congested_connections", "iotserverless_broker_retained_messages", "iotserverless_broker_retained_refused_total",
            "iotserverless_broker_pump_wakes_total",
        })
        {
            Assert.True(Value(text, name) >= 0, name);
        }
        var traffic = Broker.Services.GetRequiredService<BrokerTraffic>();
        Assert.True(traffic.PublishesIn >= 1 && traffic.PublishesOut >= 1 && traffic.BytesIn > 0 && traffic.BytesOut > 0,
            $"in {traffic.PublishesIn} ({traffic.BytesIn} B), out {traffic.PublishesOut} ({traffic.BytesOut} B)");
        // A lone delivery (and the CONNACKs, SUBACK and PUBACK before it) woke its pump on the waking thread.
        Assert.True(traffic.PumpWakesInline >= 1, $"{traffic.PumpWakesInline} pump wake-ups inline");
        Assert.Contains("kestrel_active_connections", text, StringComparison.Ordinal);
        // The runtime's meter: what the benchmark reads the GC's pause time from.
        Assert.True(Value(text, "dotnet_gc_pause_time_seconds_total") >= 0, "dotnet_gc_pause_time_seconds_total");
        Assert.True(Value(text, "dotnet_gc_heap_total_allocated_bytes_total") > 0, "dotnet_gc_heap_total_allocated_bytes_total");

        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true, ClientCertificates = { Pki.Device("metrics-scraper") } };
        using var wss = new HttpClient(handler);
        using var onDevicePort = await wss.GetAsync(new Uri($"https://127.0.0.1:{Broker.WebSocketPort}/metrics"));
        Assert.Equal(HttpStatusCode.NotFound, onDevicePort.StatusCode);
    }

    /// <summary>The value of an unlabelled sample in Prometheus text format.</summary>
    static double Value(string text, string name)
    {
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(name + " ", StringComparison.Ordinal) || line.StartsWith(name + "{", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                return double.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        Assert.Fail($"{name} is not in the scrape:\n{text}");
        return 0;
    }
}
