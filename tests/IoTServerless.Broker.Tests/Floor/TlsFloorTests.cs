using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using IoTServerless.Testing;
using IoTServerless.TlsFloor;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTServerless.Broker.Tests.Floor;

/// <summary>
/// The benchmark's floor server with real MQTT clients over mutual TLS, on SslStream (tls-floor) and on
/// OpenSSL driving the socket (tls-floor-native): what the benchmark's load generator relies on, so that
/// its figures measure a working server.
/// </summary>
public abstract class TlsFloorTests(FloorTls tls) : IAsyncLifetime
{
    readonly TestPki _pki = new();
    FloorServer _server = null!;

    public Task InitializeAsync()
    {
        _server = FloorServer.Start(new FloorOptions(new IPEndPoint(IPAddress.Loopback, 0), _pki.ServerCertificatePath, _pki.ServerKeyPath, _pki.CaPath, tls));
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Start_devicesWithCertificatesOfTheCa_publishesReachTheSubscriberAtQos0_andQos1IsAcknowledged()
    {
        using var subscriberCertificate = _pki.Device("sub-001");
        using var publisherCertificate = _pki.Device("pub-001");
        using var subscriber = await TestMqtt.ConnectAsync("sub-001", _server.Endpoint.Port, subscriberCertificate, _pki.Ca);
        var received = new List<(string Topic, string Payload, MqttQualityOfServiceLevel Qos)>();
        var both = new TaskCompletionSource();
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            lock (received)
            {
                received.Add((e.ApplicationMessage.Topic, Encoding.UTF8.GetString(e.ApplicationMessage.Payload), e.ApplicationMessage.QualityOfServiceLevel));
                if (received.Count == 2)
                {
                    both.TrySetResult();
                }
            }
            return Task.CompletedTask;
        };
        await subscriber.SubscribeAsync("bench/#", MqttQualityOfServiceLevel.AtLeastOnce);
        using var publisher = await TestMqtt.ConnectAsync("pub-001", _server.Endpoint.Port, publisherCertificate, _pki.Ca);

        await publisher.PublishStringAsync("bench/a", "zero", MqttQualityOfServiceLevel.AtMostOnce);
        var acknowledged = await publisher.PublishStringAsync("bench/b", "one", MqttQualityOfServiceLevel.AtLeastOnce);

        Assert.True(acknowledged.IsSuccess);
        await both.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal([("bench/a", "zero", MqttQualityOfServiceLevel.AtMostOnce), ("bench/b", "one", MqttQualityOfServiceLevel.AtMostOnce)], received);
    }

    [Fact]
    public async Task Start_aPublishArrivingInPieces_isRelayedWhole()
    {
        using var subscriberCertificate = _pki.Device("sub-002");
        using var subscriber = await TestMqtt.ConnectAsync("sub-002", _server.Endpoint.Port, subscriberCertificate, _pki.Ca);
        var payload = new TaskCompletionSource<string>();
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            payload.TrySetResult(Encoding.UTF8.GetString(e.ApplicationMessage.Payload));
            return Task.CompletedTask;
        };
        await subscriber.SubscribeAsync("bench/#");
        using var tcp = new TcpClient();
        using var publisherCertificate = _pki.Device("pub-002");
        await using var publisher = await RawMqtt.ConnectAsync(tcp, _server.Endpoint.Port, publisherCertificate, "pub-002");

        var publish = RawMqtt.Publish("bench/split", "moisture=17", qos: 0);
        await publisher.WriteAsync(publish.AsMemory(0, 3));
        await publisher.FlushAsync();
        await Task.Delay(200);
        await publisher.WriteAsync(publish.AsMemory(3));

        Assert.Equal("moisture=17", await payload.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Start_aDeviceCertificateOfAnotherCa_isRefused()
    {
        using var rogue = _pki.RogueDevice("rogue-001");

        await Assert.ThrowsAnyAsync<Exception>(() => TestMqtt.ConnectAsync("rogue-001", _server.Endpoint.Port, rogue, _pki.Ca));
    }

    [Fact]
    public async Task Start_anExpiredDeviceCertificate_isRefused()
    {
        using var expired = _pki.ExpiredDevice("expired-001");

        await Assert.ThrowsAnyAsync<Exception>(() => TestMqtt.ConnectAsync("expired-001", _server.Endpoint.Port, expired, _pki.Ca));
    }

    [Fact]
    public async Task Start_aPublishLargerThanATlsRecord_isRelayedWhole()
    {
        using var subscriberCertificate = _pki.Device("sub-003");
        using var publisherCertificate = _pki.Device("pub-003");
        using var subscriber = await TestMqtt.ConnectAsync("sub-003", _server.Endpoint.Port, subscriberCertificate, _pki.Ca);
        var received = new TaskCompletionSource<byte[]>();
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            received.TrySetResult(e.ApplicationMessage.Payload.ToArray());
            return Task.CompletedTask;
        };
        await subscriber.SubscribeAsync("bench/#");
        using var publisher = await TestMqtt.ConnectAsync("pub-003", _server.Endpoint.Port, publisherCertificate, _pki.Ca);
        var payload = new byte[100_000];
        new Random(7).NextBytes(payload);

        await publisher.PublishBinaryAsync("bench/large", payload, MqttQualityOfServiceLevel.AtLeastOnce);

        Assert.Equal(payload, await received.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _pki.Dispose();
    }
}

public sealed class TlsFloorSslStreamTests() : TlsFloorTests(FloorTls.SslStream);

public sealed class TlsFloorOpenSslTests() : TlsFloorTests(FloorTls.OpenSsl);
