using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using MQTTnet.Adapter;
using MQTTnet.AspNetCore;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Server;

namespace IoTServerless.Broker.Mqtt;

/// <summary>
/// Hands each MQTT connection (the MQTT/TLS listener's, and MQTT over WebSockets) to MQTTnet's server
/// as a <see cref="MqttTransportChannel"/>, in place of MQTTnet.AspNetCore's <c>MqttConnectionHandler</c>.
/// </summary>
internal sealed class MqttTransportConnectionHandler : ConnectionHandler, IMqttServerAdapter
{
    MqttServerOptions? _options;

    public Func<IMqttChannelAdapter, Task>? ClientHandler { get; set; }

    public Task StartAsync(MqttServerOptions options, IMqttNetLogger logger)
    {
        _options = options;
        return Task.CompletedTask;
    }

    public Task StopAsync() => Task.CompletedTask;

    public void Dispose()
    {
    }

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        if (ClientHandler is not { } handler || _options is null)
        {
            return; // the MQTT server has not started (or is stopping): nothing can take the connection
        }
        if (connection.Features.Get<ITransferFormatFeature>() is { } format)
        {
            format.ActiveFormat = TransferFormat.Binary; // MQTT over WebSockets: binary messages
        }
        var formatter = new MqttPacketFormatterAdapter(new MqttBufferWriter(_options.WriterBufferSize, _options.WriterBufferSizeMax));
        using var channel = new MqttTransportChannel(formatter, connection);
        await handler(channel);
    }
}

/// <summary>
/// One MQTT connection as MQTTnet's server sees it, over the connection's (TLS, guarded, coalesced)
/// transport. It does what MQTTnet.AspNetCore's <c>MqttConnectionContext</c> does, but:
/// <list type="bullet">
/// <item>a connection that closes with part of a packet unread ends the read. That one kept asking
/// the completed pipe, which handed the same half packet back at once, every time: the device's
/// receive loop spun a core until its keep-alive ran out (README "Broker performance").</item>
/// <item>its writer lock is a <see cref="SemaphoreSlim"/> (about 50 B, allocating only while a second
/// writer waits), where <c>AsyncLock</c> keeps a 64-slot waiter queue (536 B) per connection.</item>
/// </list>
/// </summary>
internal sealed class MqttTransportChannel(MqttPacketFormatterAdapter formatter, ConnectionContext connection) : IMqttChannelAdapter
{
    readonly PipeReader _input = connection.Transport.Input;
    readonly PipeWriter _output = connection.Transport.Output;
    // MQTTnet sends from its receive loop (PUBACK, SUBACK, PINGRESP) and its send loop (deliveries) at
    // once, and the formatter's encode buffer and the pipe writer each take one writer at a time.
    readonly SemaphoreSlim _writer = new(1, 1);

    public long BytesReceived { get; private set; }

    public long BytesSent { get; private set; }

    // Over WebSockets the connection is an HTTP request's: its certificate (from the TLS handshake, or
    // forwarded by an ingress) and addresses are the request's.
    public X509Certificate2? ClientCertificate
        => connection.Features.Get<ITlsConnectionFeature>()?.ClientCertificate
        ?? connection.Features.Get<IHttpContextFeature>()?.HttpContext?.Connection.ClientCertificate;

    public EndPoint? RemoteEndPoint => connection.RemoteEndPoint ?? Http(f => f.RemoteIpAddress, f => f.RemotePort);

    public EndPoint? LocalEndPoint => connection.LocalEndPoint ?? Http(f => f.LocalIpAddress, f => f.LocalPort);

    public bool IsSecureConnection
        => connection.Features.Get<ITlsConnectionFeature>() is not null
        || connection.Features.Get<IHttpContextFeature>()?.HttpContext?.Request.IsHttps == true;

    EndPoint? Http(Func<IHttpConnectionFeature, IPAddress?> address, Func<IHttpConnectionFeature, int> port)
        => connection.Features.Get<IHttpConnectionFeature>() is { } http && address(http) is { } ip ? new IPEndPoint(ip, port(http)) : null;

    public MqttPacketFormatterAdapter PacketFormatterAdapter { get; } = formatter;

    public Task ConnectAsync(CancellationToken cancellationToken) => Task.CompletedTask; // Kestrel accepted it already

    public Task DisconnectAsync(CancellationToken cancellationToken)
    {
        _input.Complete();
        _output.Complete();
        return Task.CompletedTask;
    }

    public async Task<MqttPacket?> ReceivePacketAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var read = await _input.ReadAsync(cancellationToken);
                var buffer = read.Buffer;
                var consumed = buffer.Start;
                var observed = buffer.Start;
                try
                {
                    if (!buffer.IsEmpty)
                    {
                        if (PacketFormatterAdapter.TryDecode(buffer, out var packet, out consumed, out observed, out var bytesRead))
                        {
                            BytesReceived += bytesRead;
                            return packet;
                        }
                    }
                    else if (read.IsCompleted)
                    {
                        throw new MqttCommunicationException("Connection Aborted");
                    }
                    if (read.IsCompleted && !buffer.IsEmpty)
                    {
                        throw new MqttCommunicationException("The connection closed inside a packet.");
                    }
                }
                finally
                {
                    _input.AdvanceTo(consumed, observed);
                }
            }
        }
        catch (Exception ex)
        {
            _input.Complete(ex);
            _output.Complete(ex);
            throw;
        }
        cancellationToken.ThrowIfCancellationRequested();
        return null;
    }

    public async Task SendPacketAsync(MqttPacket packet, CancellationToken cancellationToken)
    {
        await _writer.WaitAsync(cancellationToken);
        try
        {
            var buffer = PacketFormatterAdapter.Encode(packet);
            if (buffer.Payload.Length == 0)
            {
                await _output.WriteAsync(buffer.Packet, cancellationToken);
            }
            else
            {
                // Header and payload in one flush: the coalescing pump never sees half a packet.
                var span = _output.GetSpan(buffer.Length);
                buffer.Packet.AsSpan().CopyTo(span);
                buffer.Payload.CopyTo(span[buffer.Packet.Count..]);
                _output.Advance(buffer.Length);
                await _output.FlushAsync(cancellationToken);
            }
            BytesSent += buffer.Length;
        }
        finally
        {
            PacketFormatterAdapter.Cleanup();
            _writer.Release();
        }
    }

    public void ResetStatistics()
    {
        BytesReceived = 0;
        BytesSent = 0;
    }

    // The semaphore is left undisposed: it has no wait handle to free (nothing asks for one), and a send
    // still finishing on another thread must be able to release it.
    public void Dispose()
    {
    }
}
