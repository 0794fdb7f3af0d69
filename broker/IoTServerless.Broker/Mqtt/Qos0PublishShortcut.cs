using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Text;
using IoTServerless.Broker.Sinks;
using IoTServerless.Core.Topics;
using MQTTnet;
using MQTTnet.Server;

namespace IoTServerless.Broker.Mqtt;

/// <summary>
/// Takes QoS 0 PUBLISH packets from admitted MQTT 3.1.x clients as they arrive, on the socket thread,
/// and dispatches them with <see cref="MqttServer.InjectApplicationMessage"/>: the same interceptors
/// (authorization, forwarding to the event sink, back-pressure) and routing as MQTTnet's receive loop,
/// without that loop. The loop yields to the thread pool before every packet (<c>await Task.Yield()</c>),
/// which cost two thread-pool wake-ups per reading at farm rates. The loop still gets every other
/// packet, and one packet a second (<see cref="KeepAliveEvery"/>), which is how MQTTnet's keep-alive
/// monitor knows the client is alive. Packets are taken only at the head of what MQTTnet has not read,
/// while MQTTnet waits for its next packet: one client's packets are handled in the order they came.
/// </summary>
public sealed class Qos0PublishShortcut(BrokerTraffic traffic)
{
    static readonly long KeepAliveEvery = Stopwatch.Frequency; // 1 s: below any keep-alive a client can ask for
    static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    MqttServer? _server;

    internal void Attach(MqttServer server) => _server = server;

    internal PipeReader Wrap(PipeReader input, OutboundGate gate) => new ShortcutReader(input, gate, this);

    /// <summary>Dispatches one message as published by the gate's client; a refused publish closes its connection (MQTT 3.1.1 has no negative PUBACK).</summary>
    Task DispatchAsync(OutboundGate gate, MqttApplicationMessage message, CancellationToken cancellationToken)
    {
        traffic.ReceivedDirect();
        gate.InShortcut = true;
        try
        {
            return _server!.InjectApplicationMessage(new InjectedMqttApplicationMessage(message)
            {
                SenderClientId = gate.ClientId!,
                CustomSessionItems = gate.SessionItems,
            }, cancellationToken);
        }
        finally
        {
            gate.InShortcut = false;
        }
    }

    /// <summary>
    /// Parses the QoS 0 PUBLISH at the head of <paramref name="buffer"/>, when the whole packet is there
    /// and nothing about it needs MQTTnet (a valid topic name, no DUP flag). <paramref name="whole"/>
    /// tells whether a whole packet of any kind is there.
    /// </summary>
    internal static bool TryParse(ReadOnlySequence<byte> buffer, out MqttApplicationMessage message, out SequencePosition end, out bool whole)
    {
        message = null!;
        end = default;
        var reader = new SequenceReader<byte>(buffer);
        whole = MqttFixedHeader.TryRead(ref reader, out var first, out var length) && reader.Remaining >= length;
        if (!whole || (first & 0xFE) != 0x30)
        {
            return false; // not a whole PUBLISH with QoS 0 and DUP 0 (the retain bit may be set)
        }
        if (length < 2 || !reader.TryReadBigEndian(out short topicLength) || (ushort)topicLength > length - 2)
        {
            return false;
        }
        var topicBytes = buffer.Slice(reader.Position, (ushort)topicLength);
        string topic;
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
        reader.Advance((ushort)topicLength);
        var payload = buffer.Slice(reader.Position, length - 2 - (ushort)topicLength);
        end = payload.End;
        message = new MqttApplicationMessage
        {
            Topic = topic,
            Payload = payload.IsEmpty ? default : new ReadOnlySequence<byte>(payload.ToArray()),
            Retain = (first & 1) != 0,
        };
        return true;
    }

    sealed class ShortcutReader(PipeReader inner, OutboundGate gate, Qos0PublishShortcut shortcut) : PipeReader
    {
        long _lastHandedOver = Stopwatch.GetTimestamp();

        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            while (true)
            {
                var result = await inner.ReadAsync(cancellationToken);
                if (result.IsCanceled || result.IsCompleted || !gate.IsMqtt3 || cancellationToken.IsCancellationRequested)
                {
                    return result;
                }
                if (!TryParse(result.Buffer, out var message, out var end, out var whole))
                {
                    if (!whole)
                    {
                        inner.AdvanceTo(result.Buffer.Start, result.Buffer.End); // the rest of the packet is still on its way
                        continue;
                    }
                    _lastHandedOver = Stopwatch.GetTimestamp();
                    return result; // a packet for MQTTnet
                }
                if (Stopwatch.GetTimestamp() - _lastHandedOver > KeepAliveEvery)
                {
                    _lastHandedOver = Stopwatch.GetTimestamp();
                    return result; // MQTTnet sees one a second, so its keep-alive monitor knows the client is alive
                }
                inner.AdvanceTo(end);
                var dispatched = shortcut.DispatchAsync(gate, message, cancellationToken);
                if (!dispatched.IsCompletedSuccessfully)
                {
                    // Back-pressure (a congested subscriber) or a failure: this socket is not read meanwhile.
                    await dispatched;
                }
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
