using System.Runtime.CompilerServices;
using MQTTnet;
using MQTTnet.Internal;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server.Internal;
using MQTTnet.Server.Internal.Formatter;

namespace IoTServerless.Broker.Mqtt;

/// <summary>
/// QoS 1 deliveries to an MQTT 3.1.x subscriber, straight to its connection's pump
/// (<see cref="OutboundGate.Deliver"/>) instead of its MQTTnet session queue and send loop. The
/// delivery is recorded in the session as MQTTnet's own queue records it
/// (<c>MqttSession.EnqueueDataPacket</c>): a packet identifier from the session's provider and the
/// packet in the session's unacknowledged list. So the subscriber's PUBACK (handed to the session by
/// <see cref="PublishShortcut"/>) releases it, and a resumed session gets it again
/// (<c>MqttSession.Recover</c>). Both are private fields of MQTTnet 5.2's session; without them
/// (another MQTTnet version) every QoS 1 delivery takes MQTTnet's queue.
/// </summary>
internal static class Qos1Delivery
{
    static int s_fields; // 0: not looked up yet, 1: MQTTnet's session has them, -1: it does not

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_packetIdentifierProvider")]
    static extern ref MqttPacketIdentifierProvider Identifiers(MqttSession session);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_unacknowledgedPublishPackets")]
    static extern ref List<MqttPublishPacket> Unacknowledged(MqttSession session);

    static bool HasFields(MqttSession session)
    {
        if (s_fields == 0)
        {
            try
            {
                _ = Identifiers(session);
                _ = Unacknowledged(session);
                s_fields = 1;
            }
            catch (MissingFieldException)
            {
                s_fields = -1;
            }
        }
        return s_fields > 0;
    }

    /// <summary>
    /// Delivers <paramref name="message"/> (QoS 1) to <paramref name="client"/>'s connection at the
    /// QoS its subscription grants. False, with nothing done, when the delivery must take MQTTnet's
    /// queue: no matching subscription (MQTTnet decided it had one), or no room in the gate
    /// (<see cref="OutboundGate.TryEnterDirect"/>: the backlog is full, or an earlier delivery through
    /// MQTTnet's queue is unsent).
    /// </summary>
    public static bool TryDeliver(OutboundGate gate, MqttConnectedClient client, MqttApplicationMessage message, string senderId)
    {
        var session = client.Session;
        if (!HasFields(session))
        {
            return false;
        }
        MqttTopicHash.Calculate(message.Topic, out var topicHash, out _, out _);
        if (!session.TryCheckSubscriptions(message.Topic, topicHash, message.QualityOfServiceLevel, senderId, out var subscription)
            || !subscription.IsSubscribed)
        {
            return false;
        }
        if (subscription.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce)
        {
            if (!gate.TryEnterDirect())
            {
                return false;
            }
            gate.Deliver(PublishEncoder.EncodeQos0(message)); // subscribed at QoS 0: delivered at QoS 0
            return true;
        }
        return TryDeliverAt(gate, session, message);
    }

    /// <summary>
    /// Delivers <paramref name="message"/> at QoS 1 (what <paramref name="session"/>'s subscription
    /// grants) to <paramref name="gate"/>'s connection; false, with nothing done, when it must take
    /// MQTTnet's queue (<see cref="Enqueue"/>).
    /// </summary>
    public static bool TryDeliverAt(OutboundGate gate, MqttSession session, MqttApplicationMessage message)
    {
        if (!HasFields(session) || !gate.TryEnterDirect())
        {
            return false;
        }
        var packet = MqttPublishPacketFactory.Create(message);
        packet.QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce;
        packet.Retain = false;
        packet.PacketIdentifier = Identifiers(session).GetNextPacketIdentifier();
        var unacknowledged = Unacknowledged(session);
        lock (unacknowledged)
        {
            unacknowledged.Add(packet);
        }
        gate.Deliver(PublishEncoder.Encode(message.Topic, message.Payload, packet.PacketIdentifier));
        return true;
    }

    /// <summary>
    /// Queues <paramref name="message"/> at <paramref name="qos"/> in <paramref name="session"/>, as
    /// MQTTnet's dispatch does (a live delivery: the retain flag cleared; a packet identifier from the
    /// session for QoS 1): its send loop writes it, or the session keeps it while its client is away.
    /// </summary>
    public static void Enqueue(MqttSession session, MqttApplicationMessage message, MqttQualityOfServiceLevel qos)
    {
        var packet = MqttPublishPacketFactory.Create(message);
        packet.QualityOfServiceLevel = qos;
        packet.Retain = false;
        if (qos > MqttQualityOfServiceLevel.AtMostOnce)
        {
            packet.PacketIdentifier = session.PacketIdentifierProvider.GetNextPacketIdentifier();
        }
        session.EnqueueDataPacket(new MqttPacketBusItem(packet));
    }
}
