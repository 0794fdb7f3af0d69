using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using MQTTnet;

namespace IoTServerless.Broker.Mqtt;

/// <summary>
/// Encodes the PUBLISH packet an MQTT 3.1.x subscriber receives: no properties, the retain flag
/// cleared (a live delivery, MQTT 3.1.1 §3.3.1.3), not a duplicate. A QoS 0 message delivered to
/// several subscribers is encoded once per thread (the dispatch asks for each of them in turn); a
/// QoS 1 delivery carries the subscriber's packet identifier, so it is encoded for each.
/// </summary>
internal static class PublishEncoder
{
    [ThreadStatic] static MqttApplicationMessage? t_message;
    [ThreadStatic] static byte[]? t_packet;

    public static byte[] EncodeQos0(MqttApplicationMessage message)
    {
        if (ReferenceEquals(t_message, message) && t_packet is { } cached)
        {
            return cached;
        }
        var packet = Encode(message.Topic, message.Payload, packetId: 0);
        t_message = message;
        t_packet = packet;
        return packet;
    }

    /// <summary>A QoS 1 PUBLISH with <paramref name="packetId"/>; QoS 0 (no identifier) when it is 0.</summary>
    internal static byte[] Encode(string topic, ReadOnlySequence<byte> payload, ushort packetId)
    {
        var topicBytes = Encoding.UTF8.GetByteCount(topic);
        var idBytes = packetId == 0 ? 0 : 2;
        var remaining = 2 + topicBytes + idBytes + payload.Length;
        if (topicBytes > ushort.MaxValue || remaining > 268_435_455)
        {
            throw new ArgumentException("The message does not fit an MQTT packet.", nameof(payload));
        }
        var lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
        var packet = new byte[1 + lengthBytes + remaining];
        packet[0] = packetId == 0 ? (byte)0x30 : (byte)0x32; // PUBLISH, QoS 0 or 1, not a duplicate, retain cleared
        var position = 1;
        var length = remaining;
        do
        {
            var digit = (byte)(length % 128);
            length /= 128;
            packet[position++] = length > 0 ? (byte)(digit | 0x80) : digit;
        }
        while (length > 0);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(position), (ushort)topicBytes);
        position += 2;
        position += Encoding.UTF8.GetBytes(topic, packet.AsSpan(position));
        if (packetId != 0)
        {
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(position), packetId);
            position += 2;
        }
        payload.CopyTo(packet.AsSpan(position));
        return packet;
    }
}
