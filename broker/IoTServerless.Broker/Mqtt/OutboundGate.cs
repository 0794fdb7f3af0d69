using System.Collections.Concurrent;
using System.Net;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Server.Internal;

namespace IoTServerless.Broker.Mqtt;

/// <summary>
/// One connection's delivery backlog, for back-pressure: messages accepted for delivery to it that
/// have not yet been written to its socket (MQTTnet's session queue plus the outbound buffer). When
/// the backlog reaches its limit, publishers whose messages would be delivered to it wait at the gate,
/// so their own sockets are not read meanwhile: a slow subscriber slows its publishers down instead
/// of growing queues or losing messages. The gate reopens when half the backlog has been sent.
/// The gate also carries the connection's direct deliveries (<see cref="Deliver"/>): QoS 0 and
/// QoS 1 PUBLISH packets encoded on the publisher's thread and written by the connection's pump, without
/// MQTTnet's session queue and send loop in between.
/// </summary>
public sealed class OutboundGate(EndPoint? remoteEndPoint, int maxBacklog)
{
    static readonly AsyncLocal<OutboundGate?> s_current = new();
    ConcurrentQueue<Task>? _acknowledgements; // created by the first QoS 1 PUBLISH: idle connections hold none
    ConcurrentQueue<byte[]>? _direct; // created by the first direct delivery
    ConcurrentQueue<DirectAcknowledgement>? _directAcknowledgements; // created by the first QoS 1 PUBLISH the shortcut takes
    // The pump's: the direct PUBACK it took from that queue and that still waits for its message's
    // acceptance. The queue is never peeked: ConcurrentQueue.TryPeek keeps a segment's slots from being
    // reused, so every PUBACK took a fresh slot and every 32nd a new segment (32 B allocated per QoS 1
    // message, in memory no cache had seen).
    Task? _headAccepted;
    ushort _headPacketId;
    long _holdsRegistered; // PUBACKs MQTTnet will write that wait for a hold
    long _holdsWritten; // ... of which the pump has written
    long _directAcknowledged; // PUBACKs the shortcut took on
    long _directAcknowledgedWritten; // ... of which the pump has written
    Task? _wakeOn; // the direct acknowledgement the pump waits for, so its completion is registered once
    TaskCompletionSource? _directAcknowledgementsWritten;
    Action? _requestWake;
    long _accepted;
    long _sent;
    long _lastQueued; // the place in the backlog of the last delivery that went through MQTTnet's queue
    int _wakeRequested;
    int _deliveredInRead;
    TaskCompletionSource? _closed;
    SubscriberDispatch.Receiver[]? _soleReceiver; // this connection as the one receiver of a message, made by its first such delivery

    public EndPoint? RemoteEndPoint { get; } = remoteEndPoint;

    /// <summary>The MQTT client id, once the connection was admitted.</summary>
    public string? ClientId { get; set; }

    /// <summary>
    /// An admitted MQTT 3.1.x client: QoS 0 and QoS 1 PUBLISH packets to and from it may bypass MQTTnet's queue
    /// and receive loop (they have no properties; MQTT 5 subscriptions carry options and identifiers
    /// that only MQTTnet's dispatch knows).
    /// </summary>
    internal bool IsMqtt3 { get; set; }

    /// <summary>The MQTT session's items (principal, session id), once the connection was admitted.</summary>
    internal System.Collections.IDictionary? SessionItems { get; set; }

    /// <summary>The message <see cref="PublishShortcut"/> is dispatching for this connection right now, if any.</summary>
    internal MqttApplicationMessage? ShortcutMessage { get; set; }

    /// <summary>What the PUBACK of <see cref="ShortcutMessage"/> waits for; null when none may be sent (the connection closes).</summary>
    internal Task? ShortcutAcceptance { get; set; }

    /// <summary>MQTTnet's client on this connection: its statistics (which its keep-alive monitor reads) and session (set by <see cref="PublishShortcut"/>).</summary>
    internal MQTTnet.Server.Internal.MqttConnectedClient? Client { get; set; }

    /// <summary>MQTTnet did not know this connection's client when the shortcut asked: its packets all go to MQTTnet.</summary>
    internal bool ShortcutRefused { get; set; }

    /// <summary>Closes the connection (set by the pump's middleware).</summary>
    internal Action<string>? Abort { get; set; }

    /// <summary>Wakes the connection's pump (set by the pump's middleware).</summary>
    internal Action? WakePump { get; set; }

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
    /// Registers what the PUBACK (or PUBREC) of <paramref name="message"/>, received on this connection,
    /// waits for. A message the shortcut is dispatching gets its PUBACK from the shortcut
    /// (<see cref="ShortcutAcceptance"/>); otherwise the next PUBACK MQTTnet sends on this connection
    /// may only go out once <paramref name="accepted"/> completed. Called once for every QoS 1/2 PUBLISH
    /// MQTTnet received, in order; MQTTnet answers them in the same order.
    /// </summary>
    public void HoldAcknowledgement(Task accepted, MqttApplicationMessage? message = null)
    {
        if (message is not null && ReferenceEquals(message, ShortcutMessage))
        {
            ShortcutAcceptance = accepted;
            return;
        }
        var holds = Volatile.Read(ref _acknowledgements);
        if (holds is null)
        {
            // The receive loop is the only writer, so no other queue can appear in between.
            holds = new ConcurrentQueue<Task>();
            Volatile.Write(ref _acknowledgements, holds);
        }
        Interlocked.Increment(ref _holdsRegistered);
        holds.Enqueue(accepted);
    }

    /// <summary>What the PUBACK about to be written waits for (nothing when no hold was registered); <paramref name="held"/> tells whether one was.</summary>
    internal Task NextAcknowledgement(out bool held)
    {
        Task? accepted = null;
        held = Volatile.Read(ref _acknowledgements) is { } holds && holds.TryDequeue(out accepted);
        return accepted ?? Task.CompletedTask;
    }

    /// <summary>The pump put <paramref name="count"/> held PUBACKs from MQTTnet into the socket's output.</summary>
    internal void HeldAcknowledgementsWritten(int count)
    {
        if (count > 0)
        {
            Interlocked.Add(ref _holdsWritten, count);
        }
    }

    /// <summary>
    /// True when every PUBACK MQTTnet is to write for this connection is in the socket's output: a
    /// PUBACK the shortcut writes now goes after them (PUBACKs keep the order of their PUBLISHes).
    /// </summary>
    internal bool MayAcknowledgeDirectly => Volatile.Read(ref _holdsWritten) == Volatile.Read(ref _holdsRegistered);

    /// <summary>
    /// Queues the PUBACK of a PUBLISH the shortcut took: the pump writes it, in order, once
    /// <paramref name="accepted"/> completed (and closes the connection if it failed).
    /// </summary>
    internal void AcknowledgeDirectly(ushort packetId, Task accepted)
    {
        var acknowledgements = Volatile.Read(ref _directAcknowledgements);
        if (acknowledgements is null)
        {
            var created = new ConcurrentQueue<DirectAcknowledgement>();
            acknowledgements = Interlocked.CompareExchange(ref _directAcknowledgements, created, null) ?? created;
        }
        Interlocked.Increment(ref _directAcknowledged);
        acknowledgements.Enqueue(new DirectAcknowledgement(accepted, packetId));
        if (accepted.IsCompleted)
        {
            RequestWake();
        }
        else
        {
            WakeWhenCompleted(accepted);
        }
    }

    /// <summary>
    /// Takes the next direct PUBACK whose message was accepted, in order; false when there is none or
    /// the head still waits (its completion wakes the pump). <paramref name="failed"/>: the head's
    /// message was not accepted, so no PUBACK may go out and the connection closes. Only the pump calls this.
    /// </summary>
    internal bool TryTakeAcknowledgement(out ushort packetId, out bool failed)
    {
        packetId = 0;
        failed = false;
        if (TakeHead() is not { } accepted)
        {
            return false;
        }
        if (!accepted.IsCompleted)
        {
            WakeWhenCompleted(accepted);
            return false;
        }
        failed = !accepted.IsCompletedSuccessfully;
        packetId = _headPacketId;
        _headAccepted = null;
        return true;
    }

    /// <summary>The head direct PUBACK's acceptance, taken from the queue into the pump's own field first; null when there is none.</summary>
    Task? TakeHead()
    {
        if (_headAccepted is null && Volatile.Read(ref _directAcknowledgements) is { } acknowledgements && acknowledgements.TryDequeue(out var head))
        {
            _headAccepted = head.Accepted;
            _headPacketId = head.PacketId;
        }
        return _headAccepted;
    }

    /// <summary>The pump put <paramref name="count"/> direct PUBACKs into the socket's output.</summary>
    internal void DirectAcknowledgementsWritten(int count)
    {
        if (count > 0 && Interlocked.Add(ref _directAcknowledgedWritten, count) == Volatile.Read(ref _directAcknowledged))
        {
            Interlocked.Exchange(ref _directAcknowledgementsWritten, null)?.TrySetResult();
        }
    }

    /// <summary>Completes once every direct PUBACK taken on so far is in the socket's output (before MQTTnet answers a PUBLISH).</summary>
    internal Task DirectAcknowledgementsWrittenAsync()
    {
        if (AllDirectAcknowledgementsWritten)
        {
            return Task.CompletedTask;
        }
        var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var signal = Interlocked.CompareExchange(ref _directAcknowledgementsWritten, created, null) ?? created;
        if (AllDirectAcknowledgementsWritten) // the pump may have written the last one before the signal existed
        {
            signal.TrySetResult();
        }
        return signal.Task;
    }

    bool AllDirectAcknowledgementsWritten => Volatile.Read(ref _directAcknowledgedWritten) == Volatile.Read(ref _directAcknowledged);

    /// <summary>The head direct PUBACK still waiting for its message's acceptance, if any (the pump's drain at close waits for it; only the pump calls this).</summary>
    internal Task? PendingAcknowledgement() => TakeHead();

    void WakeWhenCompleted(Task accepted)
    {
        if (!ReferenceEquals(Interlocked.Exchange(ref _wakeOn, accepted), accepted))
        {
            accepted.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_requestWake ??= RequestWake);
        }
    }

    void RequestWake()
    {
        if (Interlocked.Exchange(ref _wakeRequested, 1) == 0 && !PumpWakes.TryDefer(this))
        {
            WakePump?.Invoke();
        }
    }

    readonly record struct DirectAcknowledgement(Task Accepted, ushort PacketId);

    public long Backlog => Volatile.Read(ref _accepted) - Volatile.Read(ref _sent);

    public bool IsCongested => Backlog >= maxBacklog;

    /// <summary>
    /// Takes a place in the backlog if there is room (the hot path: no allocation, no wait), for a
    /// delivery that goes through MQTTnet's session queue.
    /// </summary>
    public bool TryEnter()
    {
        if (Backlog >= maxBacklog)
        {
            return false;
        }
        Queued(Interlocked.Increment(ref _accepted));
        return true;
    }

    /// <summary>
    /// Takes a place in the backlog for a direct delivery (<see cref="Deliver"/>). Refused while the
    /// backlog is full, and while a delivery that went through MQTTnet's queue has not been written
    /// yet: a direct delivery must not overtake it (one publisher's messages stay in order).
    /// </summary>
    internal bool TryEnterDirect()
    {
        if (Backlog >= maxBacklog || Volatile.Read(ref _sent) < Volatile.Read(ref _lastQueued))
        {
            return false;
        }
        Interlocked.Increment(ref _accepted);
        return true;
    }

    /// <summary>
    /// This connection as the only receiver of a message (<see cref="SubscriberDispatch.TryCollect"/>): one
    /// array per connection, read only, instead of one per message (a pump that gets its own commands).
    /// </summary>
    internal SubscriberDispatch.Receiver[] AsSoleReceiver(string clientId, MqttConnectedClient client)
    {
        if (Volatile.Read(ref _soleReceiver) is [var cached] receivers && ReferenceEquals(cached.Client, client) && string.Equals(cached.ClientId, clientId, StringComparison.Ordinal))
        {
            return receivers;
        }
        receivers = [new SubscriberDispatch.Receiver(clientId, this, client)];
        Volatile.Write(ref _soleReceiver, receivers);
        return receivers;
    }

    /// <summary>
    /// Hands a PUBLISH packet (whole, encoded for this connection) to the pump, after
    /// <see cref="TryEnterDirect"/>. The pump writes it with whatever else is pending, on this thread
    /// when it was idle.
    /// </summary>
    internal void Deliver(byte[] packet)
    {
        var direct = Volatile.Read(ref _direct);
        if (direct is null)
        {
            var created = new ConcurrentQueue<byte[]>();
            direct = Interlocked.CompareExchange(ref _direct, created, null) ?? created;
        }
        direct.Enqueue(packet);
        if (PumpWakes.Collecting)
        {
            Interlocked.Increment(ref _deliveredInRead);
        }
        RequestWake();
    }

    /// <summary>
    /// How many direct deliveries were handed over since the last call while a read was being
    /// handled (<see cref="PumpWakes"/>); reset by the call. Only a hint for how the pump is woken.
    /// </summary>
    internal int TakeDeliveredInRead() => Interlocked.Exchange(ref _deliveredInRead, 0);

    /// <summary>
    /// Takes the direct deliveries for the pump's next write. The wake-up flag is reset before the
    /// queue is read, so a delivery enqueued meanwhile is either taken now or wakes the pump again.
    /// </summary>
    internal bool TryTakeDirect(out byte[] packet)
    {
        packet = null!;
        Volatile.Write(ref _wakeRequested, 0);
        return Volatile.Read(ref _direct) is { } direct && direct.TryDequeue(out packet!);
    }

    void Queued(long place)
    {
        long last;
        while ((last = Volatile.Read(ref _lastQueued)) < place && Interlocked.CompareExchange(ref _lastQueued, place, last) != last)
        {
        }
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
    public void Enter() => Queued(Interlocked.Increment(ref _accepted));

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
    public void Bind(EndPoint? remoteEndPoint, string clientId, MqttProtocolVersion protocolVersion = MqttProtocolVersion.V311, System.Collections.IDictionary? sessionItems = null)
    {
        if (remoteEndPoint is not null && _byEndPoint.TryGetValue(remoteEndPoint, out var gate))
        {
            gate.ClientId = clientId;
            gate.SessionItems = sessionItems;
            gate.IsMqtt3 = protocolVersion is MqttProtocolVersion.V310 or MqttProtocolVersion.V311;
            _byClient[clientId] = gate;
        }
    }

    public bool TryGet(string clientId, out OutboundGate gate) => _byClient.TryGetValue(clientId, out gate!);

    /// <summary>Connections holding back their publishers right now (read when metrics are collected).</summary>
    public int CongestedCount => _byEndPoint.Values.Count(g => g.IsCongested);
}
