using System.Collections.Concurrent;
using System.Net;

namespace IoTServerless.Broker.Mqtt;

/// <summary>
/// One connection's delivery backlog, for back-pressure: messages accepted for delivery to it that
/// have not yet been written to its socket (MQTTnet's session queue plus the outbound buffer). When
/// the backlog reaches its limit, publishers whose messages would be delivered to it wait at the gate,
/// so their own sockets are not read meanwhile: a slow subscriber slows its publishers down instead
/// of growing queues or losing messages. The gate reopens when half the backlog has been sent.
/// </summary>
public sealed class OutboundGate(EndPoint? remoteEndPoint, int maxBacklog)
{
    static readonly AsyncLocal<OutboundGate?> s_current = new();
    ConcurrentQueue<Task>? _acknowledgements; // created by the first QoS 1 PUBLISH: idle connections hold none
    long _accepted;
    long _sent;
    TaskCompletionSource? _closed;

    public EndPoint? RemoteEndPoint { get; } = remoteEndPoint;

    /// <summary>The MQTT client id, once the connection was admitted.</summary>
    public string? ClientId { get; set; }

    /// <summary>
    /// The gate of the connection whose MQTTnet receive loop is running on this async flow (set by the
    /// outbound pump's middleware before MQTTnet takes the connection over); null elsewhere.
    /// </summary>
    public static OutboundGate? Current
    {
        get => s_current.Value;
        internal set => s_current.Value = value;
    }

    /// <summary>
    /// The next PUBACK (or PUBREC) MQTTnet sends on this connection may only go out once
    /// <paramref name="accepted"/> completed. Called once for every QoS 1/2 PUBLISH the connection
    /// received, in order; MQTTnet answers them in the same order.
    /// </summary>
    public void HoldAcknowledgement(Task accepted)
    {
        var holds = Volatile.Read(ref _acknowledgements);
        if (holds is null)
        {
            // The receive loop is the only writer, so no other queue can appear in between.
            holds = new ConcurrentQueue<Task>();
            Volatile.Write(ref _acknowledgements, holds);
        }
        holds.Enqueue(accepted);
    }

    /// <summary>What the PUBACK about to be written waits for (nothing when no hold was registered).</summary>
    internal Task NextAcknowledgement() => Volatile.Read(ref _acknowledgements) is { } holds && holds.TryDequeue(out var accepted) ? accepted : Task.CompletedTask;

    public long Backlog => Volatile.Read(ref _accepted) - Volatile.Read(ref _sent);

    public bool IsCongested => Backlog >= maxBacklog;

    /// <summary>Takes a place in the backlog if there is room (the hot path: no allocation, no wait).</summary>
    public bool TryEnter()
    {
        if (Backlog >= maxBacklog)
        {
            return false;
        }
        Interlocked.Increment(ref _accepted);
        return true;
    }

    /// <summary>Waits for room; false if there was none within <paramref name="timeout"/>.</summary>
    public async Task<bool> EnterAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var closed = Volatile.Read(ref _closed);
            if (closed is null)
            {
                var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                closed = Interlocked.CompareExchange(ref _closed, created, null) ?? created;
            }
            // Checked after the signal exists, so a drain in between is never missed.
            if (TryEnter())
            {
                return true;
            }
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                return false;
            }
            try
            {
                await closed.Task.WaitAsync(left);
            }
            catch (TimeoutException)
            {
                return false;
            }
        }
    }

    /// <summary>Takes a place regardless of the limit (a QoS 1 message that waited its full time).</summary>
    public void Enter() => Interlocked.Increment(ref _accepted);

    /// <summary>
    /// The pump wrote <paramref name="publishes"/> PUBLISH packets to the socket. Never counted past
    /// what was accepted (retransmissions, a taken-over session's queue), so the backlog cannot go negative.
    /// </summary>
    internal void Sent(int publishes)
    {
        if (publishes > 0)
        {
            long sent, next;
            do
            {
                sent = Volatile.Read(ref _sent);
                next = Math.Min(sent + publishes, Volatile.Read(ref _accepted));
            }
            while (Interlocked.CompareExchange(ref _sent, next, sent) != sent);
        }
        if (Volatile.Read(ref _closed) is not null && Backlog <= maxBacklog / 2)
        {
            Release();
        }
    }

    /// <summary>Everyone waiting goes on (drained, or the connection closed).</summary>
    internal void Release() => Interlocked.Exchange(ref _closed, null)?.TrySetResult();
}

/// <summary>The outbound gates of the live MQTT-over-TLS connections, by remote endpoint and by client id.</summary>
public sealed class OutboundGates
{
    readonly ConcurrentDictionary<EndPoint, OutboundGate> _byEndPoint = new();
    readonly ConcurrentDictionary<string, OutboundGate> _byClient = new(StringComparer.Ordinal);

    internal void Opened(OutboundGate gate)
    {
        if (gate.RemoteEndPoint is not null)
        {
            _byEndPoint[gate.RemoteEndPoint] = gate;
        }
    }

    internal void Closed(OutboundGate gate)
    {
        if (gate.RemoteEndPoint is not null)
        {
            _byEndPoint.TryRemove(new KeyValuePair<EndPoint, OutboundGate>(gate.RemoteEndPoint, gate));
        }
        if (gate.ClientId is { } clientId)
        {
            _byClient.TryRemove(new KeyValuePair<string, OutboundGate>(clientId, gate));
        }
        gate.Release();
    }

    /// <summary>Names the connection from <paramref name="remoteEndPoint"/> by its client id (a takeover replaces the old one).</summary>
    public void Bind(EndPoint? remoteEndPoint, string clientId)
    {
        if (remoteEndPoint is not null && _byEndPoint.TryGetValue(remoteEndPoint, out var gate))
        {
            gate.ClientId = clientId;
            _byClient[clientId] = gate;
        }
    }

    public bool TryGet(string clientId, out OutboundGate gate) => _byClient.TryGetValue(clientId, out gate!);

    /// <summary>Connections holding back their publishers right now (read when metrics are collected).</summary>
    public int CongestedCount => _byEndPoint.Values.Count(g => g.IsCongested);
}
