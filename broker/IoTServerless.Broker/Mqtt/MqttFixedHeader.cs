using System.Buffers;

namespace IoTServerless.Broker.Mqtt;

/// <summary>An MQTT packet's fixed header: type and flags, then the remaining length (1 to 4 bytes).</summary>
internal static class MqttFixedHeader
{
    /// <summary>
    /// Reads the fixed header at <paramref name="reader"/>'s position: false while it is not complete;
    /// a remaining length of more than four bytes is malformed.
    /// </summary>
    public static bool TryRead(ref SequenceReader<byte> reader, out byte first, out int remainingLength)
    {
        remainingLength = 0;
        if (!reader.TryRead(out first))
        {
            return false;
        }
        var shift = 0;
        byte b;
        do
        {
            if (!reader.TryRead(out b))
            {
                return false;
            }
            if (shift > 21)
            {
                throw new InvalidDataException("Malformed MQTT remaining length.");
            }
            remainingLength |= (b & 0x7F) << shift;
            shift += 7;
        }
        while ((b & 0x80) != 0);
        return true;
    }
}
