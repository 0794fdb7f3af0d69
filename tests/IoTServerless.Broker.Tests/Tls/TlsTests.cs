using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using IoTServerless.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTServerless.Broker.Tests.Tls;

/// <summary>Device TLS on the broker's own socket listener (the default transport).</summary>
public sealed class SocketTransportTlsTests : TlsTests;

/// <summary>Device TLS on Kestrel's transport and HTTPS middleware (<c>Broker:Mqtt:Transport=Kestrel</c>).</summary>
public sealed class KestrelTransportTlsTests : TlsTests
{
    protected override Task<IDictionary<string, string?>?> SettingsAsync()
        => Task.FromResult<IDictionary<string, string?>?>(new Dictionary<string, string?> { ["Broker:Mqtt:Transport"] = "Kestrel" });
}

/// <summary>Device TLS over real sockets, on either transport: mutual TLS is required, only trusted CAs, TLS 1.2+.</summary>
public abstract class TlsTests : BrokerTestBase
{
    [Fact]
    public async Task Connect_withTrustedDeviceCertificate_publishesAndReceives()
    {
        using var client = await TestMqtt.ConnectAsync("soil-001", Broker.MqttPort, Pki.Device("soil-001"), Pki.Ca);
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.ApplicationMessageReceivedAsync += e =>
        {
            received.TrySetResult(e.ApplicationMessage.ConvertPayloadToString());
            return Task.CompletedTask;
        };
        await client.SubscribeAsync("farmA/sensor/soil-001/data", MqttQualityOfServiceLevel.AtLeastOnce);
        await client.PublishStringAsync("farmA/sensor/soil-001/data", "{\"humidity\":41}", MqttQualityOfServiceLevel.AtLeastOnce);

        Assert.Equal("{\"humidity\":41}", await received.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Connect_withoutClientCertificate_isRefused()
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        await Assert.ThrowsAnyAsync<Exception>(() => client.ConnectAsync(TestMqtt.Options("anon", Broker.MqttPort, null, Pki.Ca)));
        Assert.False(client.IsConnected);
        await AssertBrokerStillServesAsync();
    }

    [Fact]
    public async Task Connect_withCertificateFromUnknownCa_isRefused()
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        using var rogue = Pki.RogueDevice("rogue");
        await Assert.ThrowsAnyAsync<Exception>(() => client.ConnectAsync(TestMqtt.Options("rogue", Broker.MqttPort, rogue, Pki.Ca)));
        Assert.False(client.IsConnected);
        await AssertBrokerStillServesAsync();
    }

    [Fact]
    public async Task Connect_withExpiredCertificate_isRefused()
    {
        using var expired = Pki.ExpiredDevice("old");
        Assert.True(expired.NotAfter < DateTime.Now);
        using var client = new MqttClientFactory().CreateMqttClient();
        await Assert.ThrowsAnyAsync<Exception>(() => client.ConnectAsync(TestMqtt.Options("old", Broker.MqttPort, expired, Pki.Ca)));
        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task Connect_withCertificateNotForClientAuthentication_isRefused()
    {
        // Issued by the trusted CA, but its extended key usage says server authentication only.
        using var serverOnly = Pki.ServerOnlyDevice("pump-007");
        using var client = new MqttClientFactory().CreateMqttClient();
        await Assert.ThrowsAnyAsync<Exception>(() => client.ConnectAsync(TestMqtt.Options("pump-007", Broker.MqttPort, serverOnly, Pki.Ca)));
        Assert.False(client.IsConnected);
        await AssertBrokerStillServesAsync();
    }

    [Fact]
    public async Task Handshake_offeringOnlyTls11_isAnsweredWithAProtocolVersionAlert()
    {
        // A raw TLS 1.1 ClientHello (no supported_versions extension): the broker must refuse it
        // itself, whatever the client's TLS library would allow.
        using var socket = new TcpClient();
        await socket.ConnectAsync(IPAddress.Loopback, Broker.MqttPort);
        var stream = socket.GetStream();
        await stream.WriteAsync(Tls11ClientHello());
        var response = new byte[7];
        var read = await RawMqtt.ReadAtLeastAsync(stream, response, TimeSpan.FromSeconds(10));

        // Either an alert record (0x15) with protocol_version (70) / handshake_failure (40), or a
        // closed connection; never a ServerHello (0x16).
        if (read > 0)
        {
            Assert.Equal(0x15, response[0]);
            if (read == 7)
            {
                Assert.Contains(response[6], new byte[] { 70, 40 });
            }
        }
        await AssertBrokerStillServesAsync();
    }

    [Fact]
    public async Task Handshake_offeringAwsAlpn_succeeds()
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, Broker.MqttPort);
        await using var ssl = new SslStream(tcp.GetStream());
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ClientCertificates = [Pki.Device("alpn-device")],
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ApplicationProtocols = [new SslApplicationProtocol("x-amzn-mqtt-ca")],
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        });
        Assert.True(ssl.IsAuthenticated);
        Assert.True(ssl.SslProtocol is SslProtocols.Tls12 or SslProtocols.Tls13);
    }

    [Fact]
    public async Task Garbage_afterTlsHandshake_closesOnlyThatConnection()
    {
        using var bystander = await TestMqtt.ConnectAsync("bystander", Broker.MqttPort, Pki.Device("bystander"), Pki.Ca);

        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, Broker.MqttPort);
        await using var ssl = new SslStream(tcp.GetStream());
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ClientCertificates = [Pki.Device("vandal")],
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        });
        var garbage = RandomNumberGenerator.GetBytes(4096);
        garbage[0] = 0xF0; // reserved packet type
        await ssl.WriteAsync(garbage);
        await ssl.FlushAsync();
        var buffer = new byte[1024];
        var closed = await RawMqtt.ReadUntilClosedAsync(ssl, buffer, TimeSpan.FromSeconds(10));
        Assert.True(closed, "the broker should close a connection that sends garbage");

        Assert.True(bystander.IsConnected);
        var received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bystander.ApplicationMessageReceivedAsync += _ =>
        {
            received.TrySetResult();
            return Task.CompletedTask;
        };
        await bystander.SubscribeAsync("still/alive", MqttQualityOfServiceLevel.AtLeastOnce);
        await bystander.PublishStringAsync("still/alive", "yes", MqttQualityOfServiceLevel.AtLeastOnce);
        await received.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task OversizedPacket_announcedAfterConnect_closesTheConnectionBeforeItIsBuffered()
    {
        using var tcp = new TcpClient();
        await using var ssl = await ConnectRawAsync(tcp, "big");
        // PUBLISH announcing 100 MB: refused at the header, long before 100 MB could arrive.
        await ssl.WriteAsync(new byte[] { 0x30, 0x80, 0x80, 0x80, 0x30, 0x00, 0x01, (byte)'t' });
        await ssl.FlushAsync();
        Assert.True(await RawMqtt.ReadUntilClosedAsync(ssl, new byte[64], TimeSpan.FromSeconds(10)));
        await AssertBrokerStillServesAsync();
    }

    [Fact]
    public async Task OversizedPacket_announcedAfterPublishesTheBrokerConsumed_closesTheConnection()
    {
        using var subscriber = await TestMqtt.ConnectAsync("watcher", Broker.MqttPort, Pki.Device("watcher"), Pki.Ca);
        var received = await ReceiveAsync(subscriber, "guard/#");
        using var tcp = new TcpClient();
        await using var ssl = await ConnectRawAsync(tcp, "big-later");
        for (var i = 0; i < 5; i++)
        {
            await ssl.WriteAsync(RawMqtt.Publish("guard/big-later", $"r{i}", qos: 0));
        }
        await ssl.FlushAsync();
        await WaitForAsync(() => received.Count == 5);

        // The frame guard checks each header once, going on from where its last walk ended: this one comes after five it walked.
        await ssl.WriteAsync(new byte[] { 0x30, 0x80, 0x80, 0x80, 0x30, 0x00, 0x01, (byte)'t' });
        await ssl.FlushAsync();

        Assert.True(await RawMqtt.ReadUntilClosedAsync(ssl, new byte[64], TimeSpan.FromSeconds(10)));
        await AssertBrokerStillServesAsync();
    }

    [Fact]
    public async Task Publishes_arrivingInPiecesThatSplitTheirHeaders_areAllDeliveredInOrder()
    {
        using var subscriber = await TestMqtt.ConnectAsync("watcher", Broker.MqttPort, Pki.Device("watcher"), Pki.Ca);
        var received = await ReceiveAsync(subscriber, "pieces/#");
        using var tcp = new TcpClient();
        await using var ssl = await ConnectRawAsync(tcp, "pieces");
        var stream = Enumerable.Range(0, 30).SelectMany(i => RawMqtt.Publish("pieces/soil", $"reading-{i}", qos: 0)).ToArray();

        // 7-byte pieces (each its own TLS record) end inside headers, topics and payloads alike.
        for (var offset = 0; offset < stream.Length; offset += 7)
        {
            await ssl.WriteAsync(stream.AsMemory(offset, Math.Min(7, stream.Length - offset)));
            await ssl.FlushAsync();
        }

        await WaitForAsync(() => received.Count == 30);
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"reading-{i}"), received);
        Assert.True(tcp.Connected);
        await ssl.WriteAsync(new byte[] { 0xC0, 0x00 }); // PINGREQ
        var pingResponse = new byte[2];
        Assert.Equal(2, await RawMqtt.ReadAtLeastAsync(ssl, pingResponse, TimeSpan.FromSeconds(10)));
        Assert.Equal(new byte[] { 0xD0, 0x00 }, pingResponse);
    }

    static async Task<ConcurrentQueue<string>> ReceiveAsync(IMqttClient subscriber, string filter)
    {
        var received = new ConcurrentQueue<string>();
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            received.Enqueue(e.ApplicationMessage.ConvertPayloadToString());
            return Task.CompletedTask;
        };
        await subscriber.SubscribeAsync(filter, MqttQualityOfServiceLevel.AtMostOnce);
        return received;
    }

    static async Task WaitForAsync(Func<bool> condition)
        => Assert.True(await Eventually.TrueAsync(() => Task.FromResult(condition()), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20)), "timed out");

    [Theory]
    [InlineData(new byte[] { 0x30, 0x05, 0x00, 0x09, (byte)'a', (byte)'b', (byte)'c' })] // topic length past the end of the packet
    [InlineData(new byte[] { 0x30, 0x01, 0x00 })] // topic length cut in half
    [InlineData(new byte[] { 0x32, 0x05, 0x00, 0x03, (byte)'a', (byte)'b', (byte)'c' })] // QoS 1 without room for its packet identifier
    [InlineData(new byte[] { 0x40, 0x01, 0x00 })] // PUBACK with half a packet identifier
    public async Task MalformedPublishOrPuback_afterConnect_closesOnlyThatConnection(byte[] publish)
    {
        using var tcp = new TcpClient();
        // An admitted MQTT 3.1.1 client: its PUBLISHes and PUBACKs go to the broker's shortcut before MQTTnet (README "Broker performance").
        await using var ssl = await ConnectRawAsync(tcp, "bad");

        await ssl.WriteAsync(publish);
        await ssl.FlushAsync();

        Assert.True(await RawMqtt.ReadUntilClosedAsync(ssl, new byte[64], TimeSpan.FromSeconds(10)));
        await AssertBrokerStillServesAsync();
    }

    Task<SslStream> ConnectRawAsync(TcpClient tcp, string clientId) => RawMqtt.ConnectAsync(tcp, Broker.MqttPort, Pki.Device(clientId), clientId);

    [Fact]
    public async Task Connect_withCertificateOfAnIntermediateCaTheDeviceSends_isAccepted()
    {
        using var intermediate = IntermediateCa(Pki.Ca, "Farm A devices CA");
        using var device = TestPki.DeviceOf(intermediate, "soil-chain-001");
        using var tcp = new TcpClient();

        await using var connected = await RawMqtt.ConnectAsync(tcp, Broker.MqttPort, device, "soil-chain-001", intermediates: [intermediate]);

        await WaitUntilAsync(async () => (await Broker.Server.GetClientsAsync()).Any(c => c.Id == "soil-chain-001"), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Connect_withCertificateOfAnIntermediateCaTheDeviceDoesNotSend_isRefused()
    {
        using var intermediate = IntermediateCa(Pki.Ca, "Farm A devices CA");
        using var device = TestPki.DeviceOf(intermediate, "soil-chain-002");
        using var tcp = new TcpClient();

        await Assert.ThrowsAnyAsync<Exception>(async () => await (await RawMqtt.ConnectAsync(tcp, Broker.MqttPort, device, "soil-chain-002")).DisposeAsync());

        Assert.DoesNotContain(await Broker.Server.GetClientsAsync(), c => c.Id == "soil-chain-002");
        await AssertBrokerStillServesAsync();
    }

    /// <summary>An intermediate CA under <paramref name="root"/>, with its key: devices' certificates chain through it to the trusted CA.</summary>
    static X509Certificate2 IntermediateCa(X509Certificate2 root, string commonName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(root, true, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // positive
        using var signed = request.Create(root, DateTimeOffset.UtcNow.AddMinutes(-5), root.NotAfter, serial);
        return signed.CopyWithPrivateKey(key);
    }

    async Task AssertBrokerStillServesAsync()
    {
        using var client = await TestMqtt.ConnectAsync("healthy-" + Guid.NewGuid().ToString("N")[..6], Broker.MqttPort, Pki.Device("healthy"), Pki.Ca);
        Assert.True(client.IsConnected);
    }

    /// <summary>A minimal TLS 1.1 ClientHello with ECDHE/RSA suites, P-256 and uncompressed points.</summary>
    static byte[] Tls11ClientHello()
    {
        var body = new List<byte> { 0x03, 0x02 }; // client_version TLS 1.1
        body.AddRange(RandomNumberGenerator.GetBytes(32));
        body.Add(0); // session id
        byte[] suites = [0xC0, 0x09, 0xC0, 0x13, 0xC0, 0x0A, 0xC0, 0x14, 0x00, 0x2F, 0x00, 0x35];
        body.AddRange([0x00, (byte)suites.Length]);
        body.AddRange(suites);
        body.AddRange([0x01, 0x00]); // compression: null
        byte[] extensions =
        [
            0x00, 0x0A, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17, // supported_groups: secp256r1
            0x00, 0x0B, 0x00, 0x02, 0x01, 0x00,             // ec_point_formats: uncompressed
        ];
        body.AddRange([0x00, (byte)extensions.Length]);
        body.AddRange(extensions);
        var handshake = new List<byte> { 0x01, 0x00, (byte)(body.Count >> 8), (byte)body.Count };
        handshake.AddRange(body);
        var record = new List<byte> { 0x16, 0x03, 0x01, (byte)(handshake.Count >> 8), (byte)handshake.Count };
        record.AddRange(handshake);
        return [.. record];
    }
}
