using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using IoTServerless.Broker.Security;
using IoTServerless.Testing;

namespace IoTServerless.Broker.Tests.Tls;

/// <summary>
/// SSL_MODE_RELEASE_BUFFERS on a real OpenSSL connection: set after the handshake, and records of
/// every size still cross both ways intact while OpenSSL frees and retakes its buffers between them.
/// The handshake's buffers in SslStream's memory BIOs are given back, and they grow again as needed.
/// </summary>
public sealed class OpenSslIdleBuffersTests : IDisposable
{
    readonly TestPki _pki = new();

    [Fact]
    public async Task TryEnable_onAnAuthenticatedServerStream_setsTheModeAndFreesTheHandshakeBuffers_andTrafficStaysIntact()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var accepted = await listener.AcceptTcpClientAsync();
        await using var server = new SslStream(accepted.GetStream());
        await using var device = new SslStream(client.GetStream(), false, (_, _, _, _) => true);
        using var deviceCertificate = _pki.Device("soil-001");
        await Task.WhenAll(
            server.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = _pki.Server,
                ClientCertificateRequired = true,
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            }),
            device.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                ClientCertificates = [deviceCertificate],
            }));

        // The handshake left the device's flight in the read BIO's buffer and the broker's in the write BIO's.
        var handshake = OpenSslIdleBuffers.BioCapacity(server);
        Assert.NotNull(handshake);
        Assert.True(handshake.Value.Read > 0 && handshake.Value.Write > 0, $"after the handshake: {handshake}");

        Assert.True(OpenSslIdleBuffers.TryEnable(server));
        Assert.Equal((0L, 0L), OpenSslIdleBuffers.BioCapacity(server));

        // Sizes from one byte to several full 16 KB records, in both directions, one after another:
        // each exchange leaves the buffers empty, so OpenSSL releases and reallocates them every time.
        foreach (var size in new[] { 1, 2, 100, 16_384, 16_385, 70_000, 3 })
        {
            var sent = RandomNumberGenerator.GetBytes(size);
            await device.WriteAsync(sent);
            Assert.Equal(sent, await ReadExactlyAsync(server, size));
            var answer = RandomNumberGenerator.GetBytes(size);
            await server.WriteAsync(answer);
            Assert.Equal(answer, await ReadExactlyAsync(device, size));
        }
    }

    static async Task<byte[]> ReadExactlyAsync(Stream stream, int size)
    {
        var buffer = new byte[size];
        await stream.ReadExactlyAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        return buffer;
    }

    public void Dispose() => _pki.Dispose();
}
