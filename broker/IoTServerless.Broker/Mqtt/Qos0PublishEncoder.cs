using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using MQTTnet;

namespace IoTServerless.Broker.Mqtt;

/// <summary>
/// Encodes the PUBLISH packet an MQTT 3.1.x subscriber receives for a QoS 0 message: no packet id,
/// no properties, the retain flag cleared (a live delivery, MQTT 3.1.1 §3.3.1.3). One message
/// delivered to several subscribers is encoded once per thread (the dispatch asks for each of them in turn).
/// </summary>
internal static class Qos0PublishEncoder
{
    [ThreadStatic] static MqttApplicationMessage? t_message;
    [ThreadStatic] static byte[]? t_packet;

    public static byte[] Encode(MqttApplicationMessage message)
    {
        if (ReferenceEquals(t_message, message) && t_packet is { } cached)
        {
            return cached;
        }
        var packet = EncodeCore(message.Topic, message.Payload);
        t_message = message;
        t_packet = packet;
        return packet;
    }

    internal static byte[] EncodeCore(string topic, ReadOnlySequence<byte> payload)
    {
        var topicBytes = Encoding.UTF8.GetByteCount(topic);
        var remaining = 2 + topicBytes + payload.Length;
        if (topicBytes > ushort.MaxValue || remaining > 268_435_455)
        {
            throw new ArgumentException("The message does not fit an MQTT packet.", nameof(payload));
        }
        var lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
        var packet = new byte[1 + lengthBytes + remaining];
        packet[0] = 0x30; // PUBLISH, QoS 0, not a duplicate, retain cleared
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
        payload.CopyTo(packet.AsSpan(position));
        return packet;
    }
}
