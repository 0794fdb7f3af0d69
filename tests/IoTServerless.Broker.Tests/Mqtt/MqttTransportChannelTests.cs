using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using IoTServerless.Broker.Mqtt;
using Microsoft.AspNetCore.Connections;
using MQTTnet.AspNetCore;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace IoTServerless.Broker.Tests.Mqtt;

/// <summary>
/// The MQTT listener's channel adapter over a real pipe pair: packets sent from many threads at once
/// arrive whole and in each sender's order, and a connection that closes inside a packet ends the
/// read instead of handing the same half packet back for ever.
/// </summary>
public sealed class MqttTransportChannelTests
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task SendPacketAsync_fromManyThreadsAtOnce_writesEveryPacketWholeAndInEachSendersOrder()
    {
        const int senders = 8, perSender = 400;
        var (connection, device) = Connect();
        using var channel = NewChannel(connection);

        var sending = Enumerable.Range(0, senders).Select(s => Task.Run(async () =>
        {
            for (var i = 0; i < perSender; i++)
            {
                // Alternately a packet without a payload (one write) and one with (header and payload copied, then flushed).
                await channel.SendPacketAsync(new MqttPublishPacket
                {
                    Topic = $"farm/s{s}",
                    PacketIdentifier = (ushort)(i + 1),
                    QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce,
                    Payload = i % 2 == 0 ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes($"{s}:{i}:{new string('x', i % 300)}")),
                }, CancellationToken.None);
            }
        })).ToArray();

        var decoder = new MqttPacketFormatterAdapter(MqttProtocolVersion.V311, new MqttBufferWriter(256, 4096));
        var next = new int[senders];
        var received = 0;
        long bytes = 0;
        using var timeout = new CancellationTokenSource(Timeout);
        while (received < senders * perSender)
        {
            var read = await device.Input.ReadAsync(timeout.Token);
            var buffer = read.Buffer;
            while (decoder.TryDecode(buffer, out var packet, out var consumed, out _, out var length))
            {
                bytes += length;
                var publish = Assert.IsType<MqttPublishPacket>(packet);
                var sender = int.Parse(publish.Topic.AsSpan("farm/s".Length));
                Assert.Equal(next[sender] + 1, publish.PacketIdentifier);
                var payload = Encoding.UTF8.GetString(publish.Payload.ToArray());
                Assert.Equal(next[sender] % 2 == 0 ? "" : $"{sender}:{next[sender]}:{new string('x', next[sender] % 300)}", payload);
                next[sender]++;
                received++;
                buffer = buffer.Slice(consumed);
            }
            device.Input.AdvanceTo(buffer.Start, buffer.End);
        }
        await Task.WhenAll(sending);
        Assert.All(next, n => Assert.Equal(perSender, n));
        Assert.Equal(channel.BytesSent, bytes);
        Assert.False(device.Input.TryRead(out var rest) && !rest.Buffer.IsEmpty, "nothing but whole packets was written");
    }

    [Fact]
    public async Task ReceivePacketAsync_whenThePeerClosesInsideAPacket_failsInsteadOfSpinning()
    {
        var (connection, device) = Connect();
        using var channel = NewChannel(connection);

        // A whole PINGREQ, then the first 3 bytes of a PUBLISH announcing 10, then the peer is gone.
        await device.Output.WriteAsync(new byte[] { 0xC0, 0x00, 0x30, 0x0A, 0x00 });
        await device.Output.CompleteAsync();

        Assert.IsType<MqttPingReqPacket>(await channel.ReceivePacketAsync(CancellationToken.None).WaitAsync(Timeout));
        // On another thread: a read that keeps handing back the same half packet never yields.
        var receive = Task.Run(() => channel.ReceivePacketAsync(CancellationToken.None));
        await Assert.ThrowsAsync<MqttCommunicationException>(() => receive.WaitAsync(Timeout));
        Assert.Equal(2, channel.BytesReceived);
    }

    static MqttTransportChannel NewChannel(ConnectionContext connection)
        => new(new MqttPacketFormatterAdapter(MqttProtocolVersion.V311, new MqttBufferWriter(256, 4096)), connection);

    /// <summary>A connection whose transport is one end of a pipe pair; the other end is the device's.</summary>
    static (ConnectionContext Connection, IDuplexPipe Device) Connect()
    {
        var toBroker = new Pipe();
        var toDevice = new Pipe();
        var connection = new DefaultConnectionContext("test", new DuplexPipe(toBroker.Reader, toDevice.Writer), new DuplexPipe(toDevice.Reader, toBroker.Writer));
        return (connection, connection.Application!);
    }

    sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }
}
