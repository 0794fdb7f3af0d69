using System.Collections;
using MQTTnet.Formatter;

namespace IoTServerless.Broker.Mqtt;

/// <summary>
/// What the broker keeps about an admitted connection, as one entry of its MQTTnet session items:
/// one entry instead of one per value, looked up on every PUBLISH by a key compared by reference.
/// </summary>
internal sealed class BrokerSession(string principal, string? ipAddress, MqttProtocolVersion protocolVersion)
{
    static readonly object Key = new();

    /// <summary>The certificate id the connection authenticated with.</summary>
    public string Principal { get; } = principal;

    /// <summary>Names this connection in its lifecycle events; made into text only for them.</summary>
    public Guid SessionId { get; } = Guid.NewGuid();

    public string? IpAddress { get; } = ipAddress;

    public MqttProtocolVersion ProtocolVersion { get; } = protocolVersion;

    public void AddTo(IDictionary sessionItems) => sessionItems[Key] = this;

    public static BrokerSession? Of(IDictionary? sessionItems) => sessionItems?[Key] as BrokerSession;
}
