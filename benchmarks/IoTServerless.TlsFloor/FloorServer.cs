using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using IoTServerless.Broker;
using IoTServerless.Broker.Mqtt;
using IoTServerless.Broker.Security;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace IoTServerless.TlsFloor;

/// <summary>
/// Accepts TCP connections, authenticates them as the broker's MQTT listener does (TLS 1.2/1.3, a
/// client certificate required and chained to the configured CA only, OpenSSL's idle buffers
/// released), and serves each with <see cref="FloorConnection"/>. Every subscriber gets every PUBLISH.
/// With <see cref="FloorTls.OpenSsl"/> the TLS is OpenSSL on the socket itself (<see cref="OpenSslStream"/>),
/// with the same settings and the same client-certificate decision.
/// </summary>
public sealed class FloorServer : IAsyncDisposable
{
    readonly Socket _listener;
    readonly SslStreamCertificateContext? _serverCertificate;
    readonly ClientCertificateValidator _validator;
    readonly OpenSslContext? _openSsl;
    readonly CancellationTokenSource _stop = new();
    readonly Task _accepting;

    FloorServer(Socket listener, SslStreamCertificateContext? serverCertificate, ClientCertificateValidator validator, OpenSslContext? openSsl)
    {
        _listener = listener;
        _serverCertificate = serverCertificate;
        _validator = validator;
        _openSsl = openSsl;
        _accepting = AcceptAsync(_stop.Token);
    }

    internal ConcurrentDictionary<FloorConnection, byte> Subscribers { get; } = new();

    public IPEndPoint Endpoint => (IPEndPoint)_listener.LocalEndPoint!;

    public static FloorServer Start(FloorOptions options)
    {
        // The broker's own certificate loading and client-certificate validation, with either TLS.
        var tls = new TlsOptions { ServerCertificatePath = options.CertificatePath, ServerKeyPath = options.KeyPath, ClientCaPath = options.ClientCaPath };
        var validator = new ClientCertificateValidator(Options.Create(new BrokerOptions { Tls = tls }), NullLogger<ClientCertificateValidator>.Instance);
        SslStreamCertificateContext? serverCertificate = null;
        OpenSslContext? openSsl = null;
        if (options.Tls == FloorTls.OpenSsl)
        {
            openSsl = OpenSslContext.Create(options.CertificatePath, options.KeyPath);
        }
        else
        {
            serverCertificate = SslStreamCertificateContext.Create(ServerCertificate.Load(tls), additionalCertificates: null);
        }
        var listener = new Socket(options.Endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(options.Endpoint);
        listener.Listen(512);
        return new FloorServer(listener, serverCertificate, validator, openSsl);
    }

    // The broker's own accept loop (MqttTlsListener).
    Task AcceptAsync(CancellationToken cancellationToken) => MqttTlsListener.AcceptAsync(_listener, ServeAsync, static _ => { }, cancellationToken);

    async Task ServeAsync(Socket socket, CancellationToken cancellationToken)
    {
        socket.NoDelay = true;
        Stream? tls = null;
        FloorConnection? connection = null;
        try
        {
            using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                handshake.CancelAfter(TimeSpan.FromSeconds(10));
                tls = _openSsl is not null
                    ? await OpenSslStream.AcceptAsync(socket, _openSsl, Validate, handshake.Token)
                    : await SslStreamAsync(socket, handshake.Token);
            }
            connection = new FloorConnection(tls, this);
            await connection.RunAsync(cancellationToken);
        }
        catch (Exception e) when (e is IOException or AuthenticationException or OperationCanceledException or SocketException or InvalidDataException or ObjectDisposedException)
        {
            // the device's problem or the server stopping: this connection ends, nothing else does
        }
        finally
        {
            if (connection is not null)
            {
                Subscribers.TryRemove(connection, out _);
                connection.Dispose();
            }
            if (tls is not null)
            {
                await tls.DisposeAsync();
            }
            else if (_openSsl is not null)
            {
                socket.Dispose(); // OpenSslStream.AcceptAsync disposes it itself once it owns it; disposing twice is harmless
            }
        }
    }

    /// <summary>The broker's decision on a client certificate, with the chain the device sent, as an SslStream handshake makes it.</summary>
    bool Validate(X509Certificate2 certificate, X509Certificate2Collection presented)
    {
        if (_validator.HandshakeChainPolicy() is not { } policy)
        {
            return _validator.ValidateHandshake(certificate, null, SslPolicyErrors.None);
        }
        policy.ExtraStore.AddRange(presented);
        using var chain = new X509Chain { ChainPolicy = policy };
        return _validator.ValidateHandshake(certificate, chain, chain.Build(certificate) ? SslPolicyErrors.None : SslPolicyErrors.RemoteCertificateChainErrors);
    }

    async Task<Stream> SslStreamAsync(Socket socket, CancellationToken cancellationToken)
    {
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsServerAsync(_validator.ServerAuthentication(_serverCertificate!), cancellationToken);
            OpenSslIdleBuffers.TryEnable(ssl);
            return ssl;
        }
        catch
        {
            await ssl.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting;
        _stop.Dispose();
        _openSsl?.Dispose();
    }
}
