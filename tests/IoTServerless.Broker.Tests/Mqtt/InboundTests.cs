using IoTServerless.Testing;

namespace IoTServerless.Broker.Tests.Mqtt;

/// <summary>The inbound path over a real TLS connection: what a device's broken writes do to its connection.</summary>
public sealed class InboundTests : BrokerTestBase
{
    [Fact]
    public async Task Device_closingItsConnectionInsideAPacket_isGoneAtOnce_notAtItsKeepAlive()
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await using var device = await RawMqtt.ConnectAsync(tcp, Broker.MqttPort, Pki.Device("half-packet"), "half-packet"); // keep-alive 60 s
        Assert.Contains(await Broker.Server.GetClientsAsync(), c => c.Id == "half-packet");

        // The first 4 bytes of a QoS 1 PUBLISH that announces 30, then the link drops (a gateway losing power).
        await device.WriteAsync(RawMqtt.Publish("half/soil", "reading-0123456789", qos: 1, packetId: 1).AsMemory(0, 4));
        await device.FlushAsync();
        await Task.Delay(200);
        tcp.Client.Shutdown(System.Net.Sockets.SocketShutdown.Both);
        tcp.Close();

        // The read ends with the connection; it does not hand the half packet back until the keep-alive (90 s) ends it.
        Assert.True(await Eventually.TrueAsync(async () => !(await Broker.Server.GetClientsAsync()).Any(c => c.Id == "half-packet"), TimeSpan.FromSeconds(10)),
            "the device is still listed as connected 10 s after its connection closed");
    }

    [Fact]
    public async Task Device_silentForOneAndAHalfTimesItsKeepAlive_isDisconnected()
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await using var device = await RawMqtt.ConnectAsync(tcp, Broker.MqttPort, Pki.Device("silent"), "silent", keepAliveSeconds: 1);
        var connected = System.Diagnostics.Stopwatch.StartNew();

        // No PINGREQ: after 1.5 s of silence the broker closes the connection, at its next keep-alive check (every 5 s).
        var closed = await RawMqtt.ReadUntilClosedAsync(device, new byte[16], TimeSpan.FromSeconds(15));

        Assert.True(closed, "a device silent for 15 s with a keep-alive of 1 s is still connected");
        Assert.InRange(connected.Elapsed, TimeSpan.FromSeconds(1.4), TimeSpan.FromSeconds(15));
        Assert.True(await Eventually.TrueAsync(async () => !(await Broker.Server.GetClientsAsync()).Any(c => c.Id == "silent"), TimeSpan.FromSeconds(5)));
    }
}
