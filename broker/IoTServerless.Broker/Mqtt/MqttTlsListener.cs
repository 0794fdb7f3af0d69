using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using IoTServerless.Broker.Security;
using IoTServerless.Broker.Sinks;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;

namespace IoTServerless.Broker.Mqtt;

/// <summary>
/// The MQTT/TLS listener (<see cref="MqttTransportKind.Socket"/>, the default): accepts on its own
/// socket, authenticates each connection with mutual TLS as Kestrel's HTTPS middleware would (the
/// same certificate, validator and protocols), and runs the same connection middleware and MQTT
/// handler (<see cref="BrokerHostingExtensions.UseMqttConnection"/>) on a <see cref="TlsSocketConnection"/>.
/// </summary>
internal sealed partial class MqttTlsListener(
    IServiceProvider services,
    IOptions<BrokerOptions> options,
    BrokerListeners listeners,
    ClientCertificateValidator validator,
    BrokerTraffic traffic,
    ILogger<MqttTlsListener> logger) : IHostedService, IAsyncDisposable
{
    readonly CancellationTokenSource _stopping = new();
    readonly ConcurrentDictionary<TlsSocketConnection, byte> _connections = new();
    Socket? _listener;
    Task _accepting = Task.CompletedTask;
    ConnectionDelegate? _application;
    SslStreamCertificateContext? _certificate;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        _certificate = SslStreamCertificateContext.Create(ServerCertificate.Load(o.Tls), additionalCertificates: null);
        var builder = new ConnectionBuilder(services);
        builder.UseMqttConnection(services, o);
        _application = builder.Build();

        var endpoint = new IPEndPoint(IPAddress.Parse(o.Mqtt.BindAddress), o.Mqtt.Port);
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endpoint.AddressFamily == AddressFamily.InterNetworkV6 && endpoint.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }
            socket.Bind(endpoint);
            socket.Listen(o.Mqtt.AcceptBacklog);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        _listener = socket;
        listeners.MqttEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        LogListening(listeners.MqttEndPoint);
        _accepting = AcceptAsync(socket, _stopping.Token);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops accepting and ends handshakes in progress. Connected clients are left to the MQTT server,
    /// which stops after this and disconnects them; any left when the host is disposed are closed then.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        _listener?.Dispose();
        await _accepting;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await StopAsync(CancellationToken.None);
        }
        foreach (var connection in _connections.Keys)
        {
            connection.Abort();
        }
    }

    Task AcceptAsync(Socket listener, CancellationToken cancellationToken)
        => AcceptAsync(listener, ServeAsync, error => LogAcceptFailed(error), cancellationToken);

    /// <summary>
    /// Accepts until cancelled or the listener is closed, starting <paramref name="serve"/> for each
    /// connection on a pool thread, so that the loop goes on accepting while a handshake runs.
    /// </summary>
    internal static async Task AcceptAsync(Socket listener, Func<Socket, CancellationToken, Task> serve, Action<SocketError> acceptFailed, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(cancellationToken);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                // Out of file descriptors, or reset before it was accepted: the next one may work.
                acceptFailed(e.SocketErrorCode);
                continue;
            }
            ThreadPool.UnsafeQueueUserWorkItem(static state => _ = state.Serve(state.Socket, state.Token), (Serve: serve, Socket: socket, Token: cancellationToken), preferLocal: false);
        }
    }

    async Task ServeAsync(Socket socket, CancellationToken stopping)
    {
        var remote = socket.RemoteEndPoint;
        SslStream? ssl = null;
        try
        {
            socket.NoDelay = true;
            ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
            using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(stopping))
            {
                handshake.CancelAfter(options.Value.Mqtt.HandshakeTimeoutMilliseconds);
                await ssl.AuthenticateAsServerAsync(validator.ServerAuthentication(_certificate!), handshake.Token);
            }
        }
        catch (Exception e)
        {
            // A device with a refused certificate, a scanner, a timeout: that one connection ends.
            traffic.Handshake(succeeded: false);
            LogHandshakeFailed(remote, e.GetType().Name, e.Message);
            if (ssl is not null)
            {
                await ssl.DisposeAsync();
            }
            socket.Dispose();
            return;
        }
        traffic.Handshake(succeeded: true);
        OpenSslIdleBuffers.TryEnable(ssl);
        var connection = new TlsSocketConnection(socket, ssl);
        _connections.TryAdd(connection, 0);
        try
        {
            await _application!(connection);
        }
        catch (Exception e)
        {
            LogConnectionFailed(connection.ConnectionId, e);
        }
        finally
        {
            _connections.TryRemove(connection, out _);
            await connection.DisposeAsync();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT/TLS listening on {EndPoint}")]
    partial void LogListening(IPEndPoint endPoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Accepting an MQTT connection failed: {Error}")]
    partial void LogAcceptFailed(SocketError error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "TLS handshake with {RemoteEndPoint} failed: {ExceptionType} {ExceptionMessage}")]
    partial void LogHandshakeFailed(EndPoint? remoteEndPoint, string exceptionType, string exceptionMessage);

    [LoggerMessage(Level = LogLevel.Debug, Message = "MQTT connection {ConnectionId} ended with an error")]
    partial void LogConnectionFailed(string connectionId, Exception exception);
}
