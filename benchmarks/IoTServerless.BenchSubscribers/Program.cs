using System.Buffers.Binary;
using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

// usage: IoTServerless.BenchSubscribers --port P --count N --ca ca.crt --cert client.crt --key client.key
//   [--host 127.0.0.1] [--client-prefix lg-idle-] [--topic-prefix bench/idle] [--concurrency 32] [--retained 0]
// With --retained R, one connection first publishes R retained messages, one to "prefix/i/config/cmd"
// for each i < R (what a pump's desired state looks like), and prints "RETAINED <R> <seconds>"; then
// subscriber i (i < R) also waits for its retained message after the SUBACK.
// Prints "READY <connected> <failed> <seconds>" once every connection is subscribed, then holds them
// until the process is stopped (SIGTERM or SIGINT).
Options options;
X509Certificate2 ca, certificate;
try
{
    options = Options.Parse(args);
    ca = X509CertificateLoader.LoadCertificateFromFile(options.Ca);
    certificate = X509Certificate2.CreateFromPemFile(options.Cert, options.Key);
}
catch (Exception e) when (e is ArgumentException or FormatException or OverflowException or IOException or System.Security.Cryptography.CryptographicException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine("usage: IoTServerless.BenchSubscribers --port P --count N --ca ca.crt --cert client.crt --key client.key [--host H] [--client-prefix P] [--topic-prefix T] [--concurrency C] [--retained R]");
    return 2;
}
using var _ca = ca;
using var _certificate = certificate;
var stopped = new TaskCompletionSource();
using var onTerm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, Stop);
using var onInt = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, Stop);
if (options.Retained > 0)
{
    var published = System.Diagnostics.Stopwatch.StartNew();
    await using var retainer = await Subscriber.PublishRetainedAsync(options, ca, certificate);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RETAINED {options.Retained} {published.Elapsed.TotalSeconds:F2}"));
}
var connecting = System.Diagnostics.Stopwatch.StartNew();
var connections = new List<SslStream>(options.Count);
var failures = 0;
using var gate = new SemaphoreSlim(options.Concurrency);
var tasks = Enumerable.Range(0, options.Count).Select(async i =>
{
    await gate.WaitAsync();
    try
    {
        var stream = await Subscriber.ConnectAsync(options, ca, certificate, i);
        lock (connections)
        {
            connections.Add(stream);
        }
    }
    catch (Exception e) when (e is IOException or SocketException or AuthenticationException or InvalidDataException)
    {
        if (Interlocked.Increment(ref failures) <= 3)
        {
            Console.Error.WriteLine($"subscriber {i}: {e.Message}");
        }
    }
    finally
    {
        gate.Release();
    }
}).ToArray();
await Task.WhenAll(tasks);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"READY {connections.Count} {failures} {connecting.Elapsed.TotalSeconds:F2}"));
await stopped.Task;
foreach (var connection in connections)
{
    await connection.DisposeAsync();
}
return 0;

void Stop(System.Runtime.InteropServices.PosixSignalContext context)
{
    context.Cancel = true;
    stopped.TrySetResult();
}

sealed record Options(string Host, int Port, int Count, string Ca, string Cert, string Key, string ClientPrefix, string TopicPrefix, int Concurrency, int Retained)
{
    public static Options Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            values[args[i].TrimStart('-')] = args[i + 1];
        }
        string Get(string name, string? fallback = null) => values.GetValueOrDefault(name) ?? fallback ?? throw new ArgumentException($"--{name} is required");
        return new Options(Get("host", "127.0.0.1"), int.Parse(Get("port"), CultureInfo.InvariantCulture), int.Parse(Get("count"), CultureInfo.InvariantCulture),
            Get("ca"), Get("cert"), Get("key"), Get("client-prefix", "lg-idle-"), Get("topic-prefix", "bench/idle"), int.Parse(Get("concurrency", "32"), CultureInfo.InvariantCulture),
            int.Parse(Get("retained", "0"), CultureInfo.InvariantCulture));
    }
}

static class Subscriber
{
    static readonly HashSet<SslStream> Early = [];

    /// <summary>Connects, subscribes to "prefix/i" at QoS 0 and "prefix/i/+/cmd" at QoS 1, and waits for the SUBACK.</summary>
    public static async Task<SslStream> ConnectAsync(Options options, X509Certificate2 ca, X509Certificate2 certificate, int index)
    {
        var ssl = await OpenAsync(options, ca, certificate, options.ClientPrefix + index.ToString(CultureInfo.InvariantCulture));
        try
        {
            var topic = options.TopicPrefix + "/" + index.ToString(CultureInfo.InvariantCulture);
            await ssl.WriteAsync(Subscribe((topic, 0), (topic + "/+/cmd", 1)));
            var granted = await ExpectAsync(ssl, 0x90, 6); // packet identifier, then one return code per filter
            if (granted[4] > 1 || granted[5] > 1)
            {
                throw new InvalidDataException($"subscription refused: {granted[4]:x2} {granted[5]:x2}");
            }
            if (index < options.Retained)
            {
                await ExpectAsync(ssl, 0x31, 2); // its retained message: PUBLISH, QoS 0, retain set
            }
            return ssl;
        }
        catch
        {
            await ssl.DisposeAsync();
            throw;
        }
    }

    /// <summary>Publishes the retained messages (QoS 0), then waits for a PINGRESP: the broker has taken them all.</summary>
    public static async Task<SslStream> PublishRetainedAsync(Options options, X509Certificate2 ca, X509Certificate2 certificate)
    {
        var ssl = await OpenAsync(options, ca, certificate, options.ClientPrefix + "retainer");
        try
        {
            var batch = new List<byte>();
            for (var i = 0; i < options.Retained; i++)
            {
                var topic = Encoding.UTF8.GetBytes(options.TopicPrefix + "/" + i.ToString(CultureInfo.InvariantCulture) + "/config/cmd");
                var body = new List<byte>(Length16(topic.Length));
                body.AddRange(topic);
                body.AddRange("{\"pump\":\"off\"}"u8.ToArray());
                batch.AddRange(Packet(0x31, body));
                if (batch.Count > 16_000 || i == options.Retained - 1)
                {
                    await ssl.WriteAsync(batch.ToArray());
                    batch.Clear();
                }
            }
            await ssl.WriteAsync(new byte[] { 0xC0, 0x00 });
            await ExpectAsync(ssl, 0xD0, 2);
            return ssl;
        }
        catch
        {
            await ssl.DisposeAsync();
            throw;
        }
    }

    static async Task<SslStream> OpenAsync(Options options, X509Certificate2 ca, X509Certificate2 certificate, string clientId)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(options.Host, options.Port);
            var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true));
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                ClientCertificates = [certificate],
                CertificateChainPolicy = new X509ChainPolicy
                {
                    TrustMode = X509ChainTrustMode.CustomRootTrust,
                    CustomTrustStore = { ca },
                    RevocationMode = X509RevocationMode.NoCheck,
                },
            });
            await ssl.WriteAsync(Connect(clientId));
            await ExpectAsync(ssl, 0x20, 2);
            return ssl;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    static byte[] Connect(string clientId)
    {
        var id = Encoding.UTF8.GetBytes(clientId);
        var body = new List<byte> { 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, 0x02, 0x04, 0xB0 }; // 3.1.1, clean session, keep-alive 1200 s
        body.AddRange(Length16(id.Length));
        body.AddRange(id);
        return Packet(0x10, body);
    }

    static byte[] Subscribe(params (string Filter, byte Qos)[] filters)
    {
        var body = new List<byte> { 0, 1 };
        foreach (var (filter, qos) in filters)
        {
            var bytes = Encoding.UTF8.GetBytes(filter);
            body.AddRange(Length16(bytes.Length));
            body.AddRange(bytes);
            body.Add(qos);
        }
        return Packet(0x82, body);
    }

    static byte[] Length16(int length)
    {
        var bytes = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, (ushort)length);
        return bytes;
    }

    static byte[] Packet(byte type, List<byte> body)
    {
        var packet = new List<byte> { type };
        var length = body.Count;
        do
        {
            var digit = (byte)(length % 128);
            length /= 128;
            packet.Add(length > 0 ? (byte)(digit | 0x80) : digit);
        }
        while (length > 0);
        packet.AddRange(body);
        return [.. packet];
    }

    /// <summary>
    /// Reads packets until one of <paramref name="type"/> with a one-byte length of at least <paramref name="length"/>; its whole bytes.
    /// A retained PUBLISH may come before the SUBACK (MQTT allows it): one is kept for the next wait for it.
    /// </summary>
    static async Task<byte[]> ExpectAsync(SslStream ssl, byte type, int length)
    {
        if (type == 0x31)
        {
            lock (Early)
            {
                if (Early.Remove(ssl))
                {
                    return [];
                }
            }
        }
        var header = new byte[2];
        await ssl.ReadExactlyAsync(header);
        if (header[0] == 0x31 && type == 0x90 && header[1] <= 127)
        {
            await ssl.ReadExactlyAsync(new byte[header[1]]);
            lock (Early)
            {
                Early.Add(ssl);
            }
            return await ExpectAsync(ssl, type, length);
        }
        if (header[0] != type || header[1] < length - 2 || header[1] > 127)
        {
            throw new InvalidDataException($"expected packet {type:x2}, got {header[0]:x2} of {header[1]} bytes");
        }
        var packet = new byte[2 + header[1]];
        header.CopyTo(packet, 0);
        await ssl.ReadExactlyAsync(packet.AsMemory(2));
        if (type == 0x20 && packet[3] != 0)
        {
            throw new InvalidDataException($"connection refused: {packet[3]:x2}");
        }
        return packet;
    }
}
