namespace IoTServerless.Broker.Sinks;

/// <summary>
/// MQTT traffic as the transport sees it: bytes and packets each way and the socket writes they took.
/// Plain totals, added once per read or per coalesced write, which <see cref="BrokerMetrics"/> reads
/// when the metrics are collected (nothing is recorded per message on the hot path beyond an add).
/// </summary>
public sealed class BrokerTraffic
{
    long _bytesIn;
    long _publishesIn;
    long _directIn;
    long _dispatchedDirect;
    long _platformDispatchedDirect;
    long _bytesOut;
    long _packetsOut;
    long _publishesOut;
    long _directOut;
    long _writes;
    long _handshakes;
    long _handshakesFailed;
    long _pumpWakesInline;
    long _pumpWakesPooled;

    public long BytesIn => Interlocked.Read(ref _bytesIn);
    public long PublishesIn => Interlocked.Read(ref _publishesIn);
    /// <summary>Of <see cref="PublishesIn"/>, the QoS 0 and QoS 1 ones taken on the socket thread, past MQTTnet's receive loop.</summary>
    public long DirectIn => Interlocked.Read(ref _directIn);

    /// <summary>Of <see cref="DirectIn"/>, those dispatched through the broker's subscriber index instead of MQTTnet's dispatch.</summary>
    public long DispatchedDirect => Interlocked.Read(ref _dispatchedDirect);

    /// <summary>Messages of the platform's own (lifecycle events, the internal API) dispatched through the subscriber index.</summary>
    public long PlatformDispatchedDirect => Interlocked.Read(ref _platformDispatchedDirect);

    public long BytesOut => Interlocked.Read(ref _bytesOut);
    public long PacketsOut => Interlocked.Read(ref _packetsOut);
    public long PublishesOut => Interlocked.Read(ref _publishesOut);

    /// <summary>Of <see cref="PublishesOut"/>, those delivered straight from the publisher's thread (QoS 0, bypassing MQTTnet's session queue).</summary>
    public long DirectOut => Interlocked.Read(ref _directOut);

    /// <summary>TLS writes (each one record run and one socket send) that carried <see cref="PacketsOut"/>.</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>TLS handshakes the MQTT/TLS listener completed (its own transport; Kestrel's meter counts its own).</summary>
    public long Handshakes => Interlocked.Read(ref _handshakes);

    /// <summary>TLS handshakes that failed: a refused or missing certificate, an old protocol, a timeout, not TLS at all.</summary>
    public long HandshakesFailed => Interlocked.Read(ref _handshakesFailed);

    /// <summary>Connection pumps woken to write what was queued for their connection, run on the waking thread.</summary>
    public long PumpWakesInline => Interlocked.Read(ref _pumpWakesInline);

    /// <summary>Connection pumps woken during a burst of deliveries to their connection, run on the thread pool.</summary>
    public long PumpWakesPooled => Interlocked.Read(ref _pumpWakesPooled);

    public void PumpWoken(bool inline) => Interlocked.Increment(ref inline ? ref _pumpWakesInline : ref _pumpWakesPooled);

    public void Handshake(bool succeeded)
    {
        if (succeeded)
        {
            Interlocked.Increment(ref _handshakes);
        }
        else
        {
            Interlocked.Increment(ref _handshakesFailed);
        }
    }

    public void Received(long bytes, bool publish)
    {
        Interlocked.Add(ref _bytesIn, bytes);
        if (publish)
        {
            Interlocked.Increment(ref _publishesIn);
        }
    }

    public void ReceivedDirect() => Interlocked.Increment(ref _directIn);

    public void DispatchDirect(bool platform)
    {
        if (platform)
        {
            Interlocked.Increment(ref _platformDispatchedDirect);
        }
        else
        {
            Interlocked.Increment(ref _dispatchedDirect);
        }
    }

    public void Sent(long bytes, int packets, int publishes, int direct = 0)
    {
        Interlocked.Add(ref _bytesOut, bytes);
        Interlocked.Add(ref _packetsOut, packets);
        Interlocked.Add(ref _publishesOut, publishes);
        if (direct > 0)
        {
            Interlocked.Add(ref _directOut, direct);
        }
        Interlocked.Increment(ref _writes);
    }
}
