using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using IoTServerless.Broker.Sinks;
using IoTServerless.Core.Topics;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;
using MQTTnet.Server.Internal;

namespace IoTServerless.Broker.Mqtt;

/// <summary>
/// Takes QoS 0 and QoS 1 PUBLISH packets from admitted MQTT 3.1.x clients as they arrive, on the
/// socket thread, and dispatches them with <see cref="MqttServer.InjectApplicationMessage"/>: the same
/// interceptors (authorization, forwarding to the event sink, back-pressure) and routing as MQTTnet's
/// receive loop, without that loop. The loop yields to the thread pool before every packet
/// (<c>await Task.Yield()</c>), and sends each PUBACK through the session's queue and send loop: two
/// thread hops per reading at farm rates. A QoS 1 message's PUBACK is written by the connection's pump
/// once the event sink accepted the message (<see cref="OutboundGate.AcknowledgeDirectly"/>).
/// A subscriber's PUBACK is handed to its MQTTnet session on the spot. MQTTnet's loop still gets every other packet. Packets are taken only at the head of what MQTTnet
/// has not read, while MQTTnet waits for its next packet, so one client's packets are handled in the
/// order they came; PUBACKs keep that order across both paths (<see cref="OutboundGate.MayAcknowledgeDirectly"/>).
/// MQTTnet's keep-alive monitor reads the client's statistics, which the shortcut keeps current.
/// </summary>
public sealed class PublishShortcut(BrokerTraffic traffic, ILogger<PublishShortcut> logger)
{
    static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);
    static readonly MqttPublishPacket CountedPublish = new(); // what the client's statistics count a taken PUBLISH as
    static readonly MqttPubAckPacket CountedAcknowledgement = new();

    MqttServer? _server;
    MqttClientSessionsManager? _sessions;
    MqttEventHandlers? _dispatch;
    bool _qos1;

    /// <summary>
    /// Takes over from MQTTnet's receive loop on <paramref name="server"/>'s connections; QoS 1 too when
    /// <paramref name="qos1"/>. With <paramref name="dispatch"/>, messages skip MQTTnet's dispatch
    /// where they can (<see cref="MqttEventHandlers.TryDispatchDirect"/>).
    /// </summary>
    internal void Attach(MqttServer server, bool qos1, MqttEventHandlers? dispatch = null)
    {
        _server = server;
        _qos1 = qos1;
        _dispatch = dispatch;
        try
        {
            _sessions = SessionsManager(server);
        }
        catch (MissingFieldException ex)
        {
            // Another MQTTnet version: without the client's statistics its keep-alive monitor would
            // drop clients whose packets all took the shortcut, so every packet goes to MQTTnet.
            logger.LogWarning(ex, "MQTTnet's sessions are out of reach; PUBLISH packets take MQTTnet's receive loop");
        }
    }

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_clientSessionsManager")]
    static extern ref MqttClientSessionsManager SessionsManager(MqttServer server);

    internal PipeReader Wrap(PipeReader input, OutboundGate gate) => new ShortcutReader(input, gate, this);

    /// <summary>Whether MQTTnet's sessions are within reach (MQTTnet 5.2): <see cref="Client"/> can find a client.</summary>
    internal bool HasSessions => _sessions is not null;

    /// <summary>MQTTnet's client connected as <paramref name="clientId"/>, if any.</summary>
    internal MqttConnectedClient? Client(string clientId)
    {
        try
        {
            return _sessions?.GetClient(clientId);
        }
        catch (InvalidOperationException)
        {
            return null; // not connected (gone, taken over)
        }
    }

    /// <summary>
    /// MQTTnet's client on the gate's connection, looked up once. Null when MQTTnet's client of that id
    /// is not the one on this connection; when <paramref name="remember"/>, that is remembered (no
    /// shortcut for this connection's packets).
    /// </summary>
    internal MqttConnectedClient? ClientOf(OutboundGate gate, bool remember = true)
    {
        if (gate.Client is { } known)
        {
            return known;
        }
        if (_sessions is null || gate.ClientId is not { } clientId || gate.ShortcutRefused)
        {
            return null;
        }
        try
        {
            var client = _sessions.GetClient(clientId);
            if (Equals(client.RemoteEndPoint, gate.RemoteEndPoint))
            {
                return gate.Client = client;
            }
        }
        catch (InvalidOperationException)
        {
            // Gone meanwhile (taken over, closing).
        }
        gate.ShortcutRefused = remember; // asked once: this connection's packets all go to MQTTnet
        return null;
    }

    /// <summary>
    /// Dispatches one message as published by the gate's client. A refused publish closes its
    /// connection (MQTT 3.1.1 has no negative PUBACK), so it gets no PUBACK; otherwise a QoS 1
    /// message's PUBACK is queued for the pump, to go out once the message was accepted.
    /// </summary>
    async ValueTask DispatchAsync(OutboundGate gate, MqttApplicationMessage message, ushort packetId, CancellationToken cancellationToken)
    {
        traffic.ReceivedDirect();
        gate.ShortcutMessage = message;
        gate.ShortcutAcceptance = null;
        try
        {
            if (_dispatch is not null && _dispatch.TryDispatchDirect(gate, message, cancellationToken, out var direct))
            {
                // Back-pressure (a congested subscriber, a full sink buffer): this socket is not read meanwhile.
                gate.ShortcutAcceptance = direct.IsCompletedSuccessfully ? direct.Result : await direct;
            }
            else
            {
                var dispatched = _server!.InjectApplicationMessage(new InjectedMqttApplicationMessage(message)
                {
                    SenderClientId = gate.ClientId!,
                    CustomSessionItems = gate.SessionItems,
                }, cancellationToken);
                if (!dispatched.IsCompletedSuccessfully)
                {
                    // Back-pressure (a congested subscriber, a full sink buffer) or a failure: this socket is not read meanwhile.
                    await dispatched;
                }
            }
        }
        finally
        {
            gate.ShortcutMessage = null;
        }
        if (message.QualityOfServiceLevel != MqttQualityOfServiceLevel.AtMostOnce && gate.ShortcutAcceptance is { } accepted)
        {
            gate.AcknowledgeDirectly(packetId, accepted);
        }
    }

    /// <summary>
    /// Parses the QoS 0 or QoS 1 PUBLISH at the head of <paramref name="buffer"/>, when the whole
    /// packet is there and nothing about it needs MQTTnet (a valid topic name, a packet identifier for
    /// QoS 1). <paramref name="whole"/> tells whether a whole packet of any kind is there, and
    /// <paramref name="first"/> is its first byte. <paramref name="previousTopic"/> is the topic of the
    /// connection's last PUBLISH, taken as this one's when its bytes are the same ASCII (a device publishes
    /// to a few topics again and again): no string decoded, validated and allocated per message.
    /// </summary>
    internal static bool TryParse(ReadOnlySequence<byte> buffer, bool qos1, string? previousTopic, out MqttApplicationMessage message, out ushort packetId, out SequencePosition end, out bool whole, out byte first)
    {
        message = null!;
        packetId = 0;
        end = default;
        var reader = new SequenceReader<byte>(buffer);
        whole = MqttFixedHeader.TryRead(ref reader, out first, out var length) && reader.Remaining >= length;
        // QoS 0 with DUP 0, or QoS 1 (DUP may be set); the retain bit may be set.
        var qos = (first & 0xFE) == 0x30 ? 0 : qos1 && (first & 0xF6) == 0x32 ? 1 : -1;
        if (!whole || qos < 0)
        {
            return false;
        }
        var header = 2 + 2 * qos;
        if (length < header || !reader.TryReadBigEndian(out short topicLength) || (ushort)topicLength > length - header)
        {
            return false;
        }
        var topicBytes = buffer.Slice(reader.Position, (ushort)topicLength);
        string topic;
        if (previousTopic is not null && topicBytes.IsSingleSegment && Ascii.Equals(topicBytes.FirstSpan, previousTopic))
        {
            topic = previousTopic; // decoded and found valid before
        }
        else
        {
            try
            {
                topic = StrictUtf8.GetString(topicBytes);
            }
            catch (DecoderFallbackException)
            {
                return false;
            }
            if (!MqttTopic.IsValidTopicName(topic, out _))
            {
                return false;
            }
        }
        reader.Advance((ushort)topicLength);
        if (qos == 1)
        {
            if (!reader.TryReadBigEndian(out short id) || id == 0)
            {
                return false; // packet identifier 0 is a protocol error: MQTTnet's to answer
            }
            packetId = (ushort)id;
        }
        var payload = buffer.Slice(reader.Position, length - header - (ushort)topicLength);
        end = payload.End;
        message = new MqttApplicationMessage
        {
            Topic = topic,
            Payload = payload.IsEmpty ? default : new ReadOnlySequence<byte>(payload.ToArray()), // an array of its own: the event sink takes it as is
            QualityOfServiceLevel = (MqttQualityOfServiceLevel)qos,
            Retain = (first & 1) != 0,
        };
        return true;
    }

    /// <summary>A whole PUBACK (MQTT 3.1.x: no reason code) at the head of <paramref name="buffer"/>.</summary>
    static bool TryReadAcknowledgement(ReadOnlySequence<byte> buffer, out ushort packetId, out SequencePosition end)
    {
        packetId = 0;
        end = default;
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryRead(out var first) || first != 0x40 || !reader.TryRead(out var length) || length != 2 || !reader.TryReadBigEndian(out short id) || id == 0)
        {
            return false;
        }
        packetId = (ushort)id;
        end = reader.Position;
        return true;
    }

    sealed class ShortcutReader(PipeReader inner, OutboundGate gate, PublishShortcut shortcut) : PipeReader
    {
        /// <summary>The topic of the last PUBLISH this reader parsed (<see cref="TryParse"/>).</summary>
        string? _lastTopic;

        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            // The pumps this read's packets wake run once the read is handled (PumpWakes): flushed
            // before every wait and before a packet goes to MQTTnet.
            try
            {
                while (true)
                {
                    var reading = inner.ReadAsync(cancellationToken);
                    if (!reading.IsCompleted)
                    {
                        PumpWakes.Flush(); // nothing more has arrived
                    }
                    var result = await reading;
                    if (result.IsCanceled || result.IsCompleted || !gate.IsMqtt3 || cancellationToken.IsCancellationRequested
                        || shortcut.ClientOf(gate) is not { } client)
                    {
                        PumpWakes.Flush();
                        return result;
                    }
                    PumpWakes.Begin();
                    // QoS 1 only while every PUBACK MQTTnet owes this client is written: the shortcut's come after them.
                    if (!TryParse(result.Buffer, shortcut._qos1 && gate.MayAcknowledgeDirectly, _lastTopic, out var message, out var packetId, out var end, out var whole, out var first))
                    {
                        if (!whole)
                        {
                            inner.AdvanceTo(result.Buffer.Start, result.Buffer.End); // the rest of the packet is still on its way
                            continue;
                        }
                        if (first == 0x40 && TryReadAcknowledgement(result.Buffer, out var acknowledged, out end))
                        {
                            // A subscriber's PUBACK: all MQTTnet's loop would do is drop the message from the session's unacknowledged ones.
                            inner.AdvanceTo(end);
                            client.Statistics.HandleReceivedPacket(CountedAcknowledgement);
                            client.Session.AcknowledgePublishPacket(acknowledged);
                            continue;
                        }
                        if ((first >> 4) is 3 or 14 && gate.DirectAcknowledgementsWrittenAsync() is { IsCompleted: false } written)
                        {
                            // MQTTnet answers this PUBLISH (or closes on this DISCONNECT) only after the shortcut's PUBACKs are out.
                            inner.AdvanceTo(result.Buffer.Start);
                            PumpWakes.Flush();
                            await written.WaitAsync(cancellationToken);
                            continue;
                        }
                        PumpWakes.Flush();
                        return result; // a packet for MQTTnet
                    }
                    var last = result.Buffer.Slice(end).IsEmpty; // nothing more of this read after this packet
                    inner.AdvanceTo(end);
                    _lastTopic = message.Topic;
                    client.Statistics.HandleReceivedPacket(CountedPublish); // what MQTTnet's keep-alive monitor reads
                    var dispatched = shortcut.DispatchAsync(gate, message, packetId, cancellationToken);
                    if (!dispatched.IsCompletedSuccessfully)
                    {
                        PumpWakes.Flush(); // back-pressure: what was delivered so far goes out meanwhile
                        await dispatched;
                    }
                    else if (last)
                    {
                        // The read's last packet: its deliveries go out now, before the next read asks the socket.
                        PumpWakes.Flush();
                    }
                }
            }
            catch
            {
                PumpWakes.Flush();
                throw;
            }
        }

        public override bool TryRead(out ReadResult result) => inner.TryRead(out result);

        public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
    }
}
