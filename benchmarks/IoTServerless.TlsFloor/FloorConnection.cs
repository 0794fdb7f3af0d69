using System.Buffers;
namespace IoTServerless.TlsFloor;

/// <summary>
/// One device connection with the least MQTT 3.1.1 a load test needs: CONNECT → CONNACK, SUBSCRIBE →
/// SUBACK (QoS 0 granted, every topic delivered), PINGREQ → PINGRESP, DISCONNECT, and PUBLISH relayed
/// to every subscriber at QoS 0 (a QoS 1 PUBLISH is acknowledged once relayed). Anything else it
/// cannot serve closes the connection.
/// </summary>
/// <remarks>
/// While idle it holds no buffer: it waits with a zero-byte read (the TLS stream then holds none either)
/// and rents a buffer only when bytes are there. No policies, sessions, retained messages or events.
/// </remarks>
internal sealed class FloorConnection(Stream tls, FloorServer server) : IDisposable
{
    const int ReadBufferBytes = 4096;
    const int MaxPacketBytes = 128 * 1024;
    static readonly byte[] ConnAck = [0x20, 0x02, 0x00, 0x00];
    static readonly byte[] PingResp = [0xD0, 0x00];

    readonly SemaphoreSlim _writeLock = new(1, 1);
    bool _connected;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        byte[]? buffer = null;
        var filled = 0;
        try
        {
            while (true)
            {
                if (filled == 0)
                {
                    if (buffer is not null)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = null;
                    }
                    _ = await tls.ReadAsync(Memory<byte>.Empty, cancellationToken); // waits for bytes, without a buffer
                    buffer = ArrayPool<byte>.Shared.Rent(ReadBufferBytes);
                }
                else if (filled == buffer!.Length)
                {
                    if (buffer.Length >= MaxPacketBytes + 5)
                    {
                        throw new InvalidDataException("packet too large");
                    }
                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, filled).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
                var read = await tls.ReadAsync(buffer.AsMemory(filled), cancellationToken);
                if (read == 0)
                {
                    return;
                }
                filled += read;
                var consumed = 0;
                while (TryFrame(buffer.AsSpan(consumed, filled - consumed), out var length, out var header))
                {
                    if (!await HandleAsync(buffer.AsMemory(consumed, length), header, cancellationToken))
                    {
                        return;
                    }
                    consumed += length;
                }
                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;
            }
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>A whole packet at the start of <paramref name="bytes"/>: its length, and its fixed header's.</summary>
    internal static bool TryFrame(ReadOnlySpan<byte> bytes, out int length, out int header)
    {
        length = 0;
        header = 0;
        var remaining = 0;
        for (var i = 1; i <= 4; i++)
        {
            if (i >= bytes.Length)
            {
                return false;
            }
            remaining |= (bytes[i] & 0x7F) << (7 * (i - 1));
            if ((bytes[i] & 0x80) == 0)
            {
                if (remaining > MaxPacketBytes)
                {
                    throw new InvalidDataException("packet too large");
                }
                header = 1 + i;
                length = header + remaining;
                return bytes.Length >= length;
            }
        }
        throw new InvalidDataException("malformed remaining length");
    }

    async ValueTask<bool> HandleAsync(ReadOnlyMemory<byte> packet, int header, CancellationToken cancellationToken)
    {
        var type = packet.Span[0] >> 4;
        if (!_connected && type != 1)
        {
            return false;
        }
        switch (type)
        {
            case 1 when !_connected: // CONNECT
                _connected = true;
                await SendAsync(ConnAck, cancellationToken);
                return true;
            case 3 when (packet.Span[0] & 0x06) == 0: // PUBLISH, QoS 0: relayed as it came
                await RelayAsync(packet, cancellationToken);
                return true;
            case 3 when (packet.Span[0] & 0x06) == 2: // PUBLISH, QoS 1: relayed at QoS 0 (retain cleared), then PUBACK
                await RelayQos1Async(packet, header, cancellationToken);
                return true;
            case 8: // SUBSCRIBE
                await SendAsync(SubAck(packet.Span[header..]), cancellationToken);
                server.Subscribers.TryAdd(this, 0);
                return true;
            case 12: // PINGREQ
                await SendAsync(PingResp, cancellationToken);
                return true;
            default: // DISCONNECT, and what the floor does not serve
                return false;
        }
    }

    async ValueTask RelayQos1Async(ReadOnlyMemory<byte> packet, int header, CancellationToken cancellationToken)
    {
        var body = packet[header..];
        var topicEnd = 2 + ((body.Span[0] << 8) | body.Span[1]);
        if (topicEnd + 2 > body.Length)
        {
            throw new InvalidDataException("PUBLISH shorter than its topic");
        }
        var packetId = body.Slice(topicEnd, 2);
        var remaining = body.Length - 2;
        var copy = ArrayPool<byte>.Shared.Rent(5 + remaining);
        try
        {
            copy[0] = 0x30;
            var at = 1;
            for (var r = remaining; ; at++)
            {
                copy[at] = (byte)(r & 0x7F);
                r >>= 7;
                if (r == 0)
                {
                    break;
                }
                copy[at] |= 0x80;
            }
            at++;
            body.Span[..topicEnd].CopyTo(copy.AsSpan(at));
            body.Span[(topicEnd + 2)..].CopyTo(copy.AsSpan(at + topicEnd));
            await RelayAsync(copy.AsMemory(0, at + remaining), cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
        await SendAsync(new byte[] { 0x40, 0x02, packetId.Span[0], packetId.Span[1] }, cancellationToken);
    }

    async ValueTask RelayAsync(ReadOnlyMemory<byte> packet, CancellationToken cancellationToken)
    {
        foreach (var subscriber in server.Subscribers.Keys)
        {
            try
            {
                await subscriber.SendAsync(packet, cancellationToken);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                server.Subscribers.TryRemove(subscriber, out _); // its own read loop ends it
            }
        }
    }

    /// <summary>SUBACK granting QoS 0 to each filter of a SUBSCRIBE.</summary>
    static byte[] SubAck(ReadOnlySpan<byte> body)
    {
        if (body.Length < 2)
        {
            throw new InvalidDataException("SUBSCRIBE without a packet identifier");
        }
        var filters = 0;
        for (var i = 2; i + 2 <= body.Length; filters++)
        {
            i += 2 + ((body[i] << 8) | body[i + 1]) + 1;
        }
        if (filters is 0 or > 125)
        {
            throw new InvalidDataException("SUBSCRIBE with no filter, or more than a one-byte SUBACK length holds");
        }
        var suback = new byte[4 + filters];
        suback[0] = 0x90;
        suback[1] = (byte)(2 + filters);
        suback[2] = body[0];
        suback[3] = body[1];
        return suback;
    }

    async ValueTask SendAsync(ReadOnlyMemory<byte> packet, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await tls.WriteAsync(packet, cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public void Dispose() => _writeLock.Dispose();
}
