using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using IoTServerless.Broker.Security;
using IoTServerless.Core.Security;

namespace IoTServerless.TlsFloor;

/// <summary>
/// Accepts TCP connections, authenticates them as the broker's MQTT listener does (TLS 1.2/1.3, a
/// client certificate required and chained to the configured CA only, OpenSSL's idle buffers
/// released), and serves each with <see cref="FloorConnection"/>. Every subscriber gets every PUBLISH.
/// </summary>
public sealed class FloorServer : IAsyncDisposable
{
    readonly Socket _listener;
    readonly SslServerAuthenticationOptions _tls;
    readonly CancellationTokenSource _stop = new();
    readonly Task _accepting;

    FloorServer(Socket listener, SslServerAuthenticationOptions tls)
    {
        _listener = listener;
        _tls = tls;
        _accepting = AcceptAsync(_stop.Token);
    }

    internal ConcurrentDictionary<FloorConnection, byte> Subscribers { get; } = new();

    public IPEndPoint Endpoint => (IPEndPoint)_listener.LocalEndPoint!;

    public static FloorServer Start(FloorOptions options)
    {
        X509Certificate2Collection roots = [];
        roots.ImportFromPemFile(options.ClientCaPath);
        var chainPolicy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            VerificationTimeIgnored = true,
        };
        chainPolicy.CustomTrustStore.AddRange(roots);
        chainPolicy.ApplicationPolicy.Add(new("1.3.6.1.5.5.7.3.2"));
        var tls = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(
                CertificateFactory.LoadPem(options.CertificatePath, options.KeyPath), additionalCertificates: null),
            ClientCertificateRequired = true,
            CertificateChainPolicy = chainPolicy,
            RemoteCertificateValidationCallback = static (_, certificate, _, errors) => certificate is not null && errors == SslPolicyErrors.None,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        };
        var listener = new Socket(options.Endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(options.Endpoint);
        listener.Listen(512);
        return new FloorServer(listener, tls);
    }

    async Task AcceptAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(cancellationToken);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // out of file descriptors, a reset before accept: the next one may work
            }
            socket.NoDelay = true;
            _ = ServeAsync(socket, cancellationToken);
        }
    }

    async Task ServeAsync(Socket socket, CancellationToken cancellationToken)
    {
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        var connection = new FloorConnection(ssl, this);
        try
        {
            using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                handshake.CancelAfter(TimeSpan.FromSeconds(10));
                await ssl.AuthenticateAsServerAsync(_tls, handshake.Token);
            }
            OpenSslIdleBuffers.TryEnable(ssl);
            await connection.RunAsync(cancellationToken);
        }
        catch (Exception e) when (e is IOException or AuthenticationException or OperationCanceledException or SocketException or InvalidDataException or ObjectDisposedException)
        {
            // the device's problem or the server stopping: this connection ends, nothing else does
        }
        finally
        {
            Subscribers.TryRemove(connection, out _);
            await ssl.DisposeAsync();
            connection.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting;
        _stop.Dispose();
    }
}
