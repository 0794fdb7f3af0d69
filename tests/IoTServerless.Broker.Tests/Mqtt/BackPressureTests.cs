using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using IoTServerless.Broker.Mqtt;
using IoTServerless.Testing;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTServerless.Broker.Tests.Mqtt;

/// <summary>
/// A subscriber that stops reading its socket: the broker holds back its publisher (QoS 1: the
/// publisher's PUBACKs stop; QoS 0: its socket is not read) instead of queueing without bound or
/// dropping, and once the subscriber reads again every message arrives.
/// </summary>
public sealed class BackPressureTests : BrokerTestBase
{
    const int Messages = 4_000;
    const int PayloadBytes = 4_096;

    protected override Task<IDictionary<string, string?>?> SettingsAsync() => Task.FromResult<IDictionary<string, string?>?>(new Dictionary<string, string?>
    {
        ["Broker:Mqtt:MaxBufferedOutboundBytes"] = "65536",
        ["Broker:Mqtt:BackPressureTimeoutMilliseconds"] = "120000",
    });

    [Theory]
    [InlineData(MqttQualityOfServiceLevel.AtLeastOnce)] // the publisher's PUBACKs stop
    [InlineData(MqttQualityOfServiceLevel.AtMostOnce)] // taken past MQTTnet's loop and delivered direct: the broker stops reading the publisher
    public async Task SubscriberThatStopsReading_holdsBackItsPublisher_andLosesNothingOnceItReadsAgain(MqttQualityOfServiceLevel qos)
    {
        var name = $"q{(int)qos}";
        await using var subscriber = await RawSubscriber.ConnectAsync(Broker.MqttPort, Pki, $"slow-sub-{name}", $"flood/{name}/#");
        using var publisher = await TestMqtt.ConnectAsync($"flood-pub-{name}", Broker.MqttPort, Pki.Device($"flood-pub-{name}"), Pki.Ca);
        var payload = new byte[PayloadBytes];
        var published = 0;
        var publishing = Task.Run(async () =>
        {
            for (var i = 0; i < Messages; i++)
            {
                await publisher.PublishBinaryAsync($"flood/{name}/a", payload, qos);
                Interlocked.Increment(ref published);
            }
        });

        // 16 MB cannot all sit in socket buffers and a 64 KB outbound budget: the publisher must stall.
        int stalledAt;
        var previous = -1;
        while (true)
        {
            await Task.Delay(500);
            stalledAt = Volatile.Read(ref published);
            if (stalledAt == previous || publishing.IsCompleted)
            {
                break;
            }
            previous = stalledAt;
        }
        Assert.False(publishing.IsCompleted, "every publish went through although the subscriber read nothing");
        Assert.Equal(1, Broker.Services.GetRequiredService<OutboundGates>().CongestedCount);

        var received = await subscriber.ReadPublishesAsync(Messages, TimeSpan.FromSeconds(60));
        await publishing.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(Messages, received);
        Assert.Equal(Messages, published);
    }

    /// <summary>An MQTT 3.1.1 subscriber on a raw TLS socket, so the test decides when it reads.</summary>
    sealed class RawSubscriber : IAsyncDisposable
    {
        readonly TcpClient _tcp;
        readonly SslStream _tls;

        RawSubscriber(TcpClient tcp, SslStream tls)
        {
            _tcp = tcp;
            _tls = tls;
        }

        public static async Task<RawSubscriber> ConnectAsync(int port, TestPki pki, string clientId, string filter)
        {
            var tcp = new TcpClient { ReceiveBufferSize = 4096 };
            await tcp.ConnectAsync("127.0.0.1", port);
            var tls = new SslStream(tcp.GetStream(), false, (_, _, _, _) => true);
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                ClientCertificates = [pki.Device(clientId)],
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            });
            var id = Encoding.UTF8.GetBytes(clientId);
            byte[] connect = [0x10, (byte)(12 + id.Length), 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, 2, 0, 60, 0, (byte)id.Length, .. id];
            var topic = Encoding.UTF8.GetBytes(filter);
            byte[] subscribe = [0x82, (byte)(5 + topic.Length), 0, 1, 0, (byte)topic.Length, .. topic, 0];
            await tls.WriteAsync(connect);
            var subscriber = new RawSubscriber(tcp, tls);
            Assert.Equal(0x20, (await subscriber.ReadPacketAsync()).Type);
            await tls.WriteAsync(subscribe);
            Assert.Equal(0x90, (await subscriber.ReadPacketAsync()).Type);
            return subscriber;
        }

        public async Task<int> ReadPublishesAsync(int expected, TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            var count = 0;
            while (count < expected)
            {
                if ((await ReadPacketAsync(cts.Token)).Type == 0x30)
                {
                    count++;
                }
            }
            return count;
        }

        async Task<(int Type, int Length)> ReadPacketAsync(CancellationToken cancellationToken = default)
        {
            var one = new byte[1];
            await _tls.ReadExactlyAsync(one, cancellationToken);
            var type = one[0] & 0xF0;
            int length = 0, shift = 0;
            do
            {
                await _tls.ReadExactlyAsync(one, cancellationToken);
                length |= (one[0] & 0x7F) << shift;
                shift += 7;
            }
            while ((one[0] & 0x80) != 0);
            var body = new byte[length];
            await _tls.ReadExactlyAsync(body, cancellationToken);
            return (type, length);
        }

        public async ValueTask DisposeAsync()
        {
            await _tls.DisposeAsync();
            _tcp.Dispose();
        }
    }
}
