using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Xunit;

namespace IoTServerless.Testing;

/// <summary>MQTT bytes over a raw TLS connection, for what no well-behaved client library sends or shows.</summary>
public static class RawMqtt
{
    /// <summary>
    /// A raw TLS connection with <paramref name="certificate"/> (and, when given, the intermediate CAs it
    /// sends with it), through CONNECT (MQTT 3.1.1, clean session, keep-alive <paramref name="keepAliveSeconds"/>)
    /// and its CONNACK: the test writes what it likes next.
    /// </summary>
    public static async Task<SslStream> ConnectAsync(TcpClient tcp, int port, X509Certificate2 certificate, string clientId, ushort keepAliveSeconds = 60,
        X509Certificate2Collection? intermediates = null)
    {
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var ssl = new SslStream(tcp.GetStream());
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ClientCertificates = intermediates is null ? [certificate] : null,
            ClientCertificateContext = intermediates is null ? null : SslStreamCertificateContext.Create(certificate, intermediates, offline: true),
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        });
        var id = Encoding.UTF8.GetBytes(clientId);
        byte[] connect = [0x10, (byte)(12 + id.Length), 0x00, 0x04, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 0x04, 0x02, (byte)(keepAliveSeconds >> 8), (byte)keepAliveSeconds, 0x00, (byte)id.Length, .. id];
        await ssl.WriteAsync(connect);
        var connack = new byte[4];
        Assert.Equal(4, await ReadAtLeastAsync(ssl, connack, TimeSpan.FromSeconds(10)));
        Assert.Equal(0x20, connack[0]);
        return ssl;
    }

    /// <summary>An MQTT 3.1.1 PUBLISH packet (topic and payload shorter than 128 bytes together).</summary>
    public static byte[] Publish(string topic, string payload, int qos, ushort packetId = 0)
    {
        var topicBytes = Encoding.UTF8.GetBytes(topic);
        var payloadBytes = Encoding.UTF8.GetBytes(payload);
        byte[] id = qos > 0 ? [(byte)(packetId >> 8), (byte)packetId] : [];
        return [(byte)(0x30 | (qos << 1)), (byte)(2 + topicBytes.Length + id.Length + payloadBytes.Length), (byte)(topicBytes.Length >> 8), (byte)topicBytes.Length, .. topicBytes, .. id, .. payloadBytes];
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the peer closes; the bytes read. Throws when <paramref name="timeout"/> passes first.</summary>
    public static async Task<int> ReadAtLeastAsync(Stream stream, byte[] buffer, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var total = 0;
        try
        {
            while (total < buffer.Length)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(total), cts.Token);
                if (n == 0)
                {
                    break;
                }
                total += n;
            }
        }
        catch (IOException)
        {
        }
        return total;
    }

    /// <summary>True when the peer closed the connection within <paramref name="timeout"/>.</summary>
    public static async Task<bool> ReadUntilClosedAsync(Stream stream, byte[] buffer, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (await stream.ReadAsync(buffer, cts.Token) > 0)
            {
            }
            return true;
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
