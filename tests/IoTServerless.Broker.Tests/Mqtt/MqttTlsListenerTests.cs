using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using IoTServerless.Broker.Sinks;
using IoTServerless.Testing;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTServerless.Broker.Tests.Mqtt;

/// <summary>
/// The broker's own MQTT/TLS listener (<c>Broker:Mqtt:Transport=Socket</c>, the default): SslStream
/// straight on the socket, with real clients. What both transports share is in <c>Tls/TlsTests</c>.
/// </summary>
public sealed class MqttTlsListenerTests : BrokerTestBase
{
    protected override Task<IDictionary<string, string?>?> SettingsAsync()
        => Task.FromResult<IDictionary<string, string?>?>(new Dictionary<string, string?>
        {
            ["Broker:Mqtt:Transport"] = "Socket",
            ["Broker:Mqtt:HandshakeTimeoutMilliseconds"] = "500",
        });

    [Fact]
    public async Task Handshake_neverStarted_isClosedAfterTheHandshakeTimeout()
    {
        using var silent = new TcpClient();
        await silent.ConnectAsync(IPAddress.Loopback, Broker.MqttPort);
        var started = System.Diagnostics.Stopwatch.StartNew();

        Assert.True(await RawMqtt.ReadUntilClosedAsync(silent.GetStream(), new byte[16], TimeSpan.FromSeconds(10)), "a connection that never starts its handshake must be closed");
        Assert.InRange(started.Elapsed, TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(8));
        var traffic = Broker.Services.GetRequiredService<BrokerTraffic>();
        Assert.Equal(1, traffic.HandshakesFailed);
        using var device = await TestMqtt.ConnectAsync("after-silent", Broker.MqttPort, Pki.Device("after-silent"), Pki.Ca);
        Assert.True(device.IsConnected);
        Assert.Equal(1, traffic.Handshakes);
    }

    [Theory]
    [InlineData(MqttQualityOfServiceLevel.AtMostOnce)]
    [InlineData(MqttQualityOfServiceLevel.AtLeastOnce)]
    public async Task Publish_ofTheLargestPayload_isDeliveredWhole(MqttQualityOfServiceLevel qos)
    {
        // 128 KB: more than one TLS record each way, and more than the writer's first buffer.
        var payload = RandomNumberGenerator.GetBytes(128 * 1024);
        using var subscriber = await TestMqtt.ConnectAsync("big-sub", Broker.MqttPort, Pki.Device("big-sub"), Pki.Ca);
        var received = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            received.TrySetResult(e.ApplicationMessage.Payload.ToArray());
            return Task.CompletedTask;
        };
        await subscriber.SubscribeAsync("farmA/big", qos);
        using var publisher = await TestMqtt.ConnectAsync("big-pub", Broker.MqttPort, Pki.Device("big-pub"), Pki.Ca);

        await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("farmA/big").WithPayload(payload).WithQualityOfServiceLevel(qos).Build());

        Assert.Equal(payload, await received.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Subscriber_resetWhileMessagesAreWrittenToIt_leavesTheOthersServed()
    {
        using var tcp = new TcpClient();
        var raw = await RawMqtt.ConnectAsync(tcp, Broker.MqttPort, Pki.Device("vanishing"), "vanishing");
        await raw.WriteAsync(Subscribe(1, "farmA/flood"));
        await raw.FlushAsync();
        var suback = new byte[5];
        Assert.Equal(5, await RawMqtt.ReadAtLeastAsync(raw, suback, TimeSpan.FromSeconds(10)));
        Assert.Equal(0x90, suback[0]);
        using var witness = await TestMqtt.ConnectAsync("witness", Broker.MqttPort, Pki.Device("witness"), Pki.Ca);
        var last = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        witness.ApplicationMessageReceivedAsync += e =>
        {
            if (e.ApplicationMessage.ConvertPayloadToString() == "last")
            {
                last.TrySetResult();
            }
            return Task.CompletedTask;
        };
        await witness.SubscribeAsync("farmA/flood", MqttQualityOfServiceLevel.AtLeastOnce);
        using var publisher = await TestMqtt.ConnectAsync("flooder", Broker.MqttPort, Pki.Device("flooder"), Pki.Ca);

        var payload = new string('x', 2048);
        var flood = Task.Run(async () =>
        {
            for (var i = 0; i < 2_000; i++)
            {
                await publisher.PublishStringAsync("farmA/flood", payload, MqttQualityOfServiceLevel.AtMostOnce);
            }
        });
        await Task.Delay(50);
        tcp.Client.Linger(); // RST instead of FIN, while the broker writes to it
        await flood.WaitAsync(TimeSpan.FromSeconds(30));
        await publisher.PublishStringAsync("farmA/flood", "last", MqttQualityOfServiceLevel.AtLeastOnce);

        await last.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(publisher.IsConnected);
        await WaitUntilAsync(async () => (await Broker.Server.GetClientsAsync()).All(c => c.Id != "vanishing"), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Stop_withDevicesConnected_disconnectsThem()
    {
        var broker = await TestBroker.StartAsync(Pki);
        var port = broker.MqttPort;
        var disconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        IMqttClient device;
        try
        {
            device = await TestMqtt.ConnectAsync("pump-stop", port, Pki.Device("pump-stop"), Pki.Ca);
            device.DisconnectedAsync += _ =>
            {
                disconnected.TrySetResult();
                return Task.CompletedTask;
            };
        }
        finally
        {
            await broker.DisposeAsync();
        }

        using (device)
        {
            await disconnected.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }
        using var refused = new TcpClient();
        await Assert.ThrowsAnyAsync<SocketException>(() => refused.ConnectAsync(IPAddress.Loopback, port));
    }

    static byte[] Subscribe(ushort packetId, string topic)
    {
        var name = Encoding.UTF8.GetBytes(topic);
        var remaining = 2 + 2 + name.Length + 1;
        return [0x82, (byte)remaining, (byte)(packetId >> 8), (byte)packetId, (byte)(name.Length >> 8), (byte)name.Length, .. name, 0];
    }
}

file static class SocketReset
{
    /// <summary>Closes with a reset: linger on with a zero timeout.</summary>
    public static void Linger(this Socket socket)
    {
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
    }
}
