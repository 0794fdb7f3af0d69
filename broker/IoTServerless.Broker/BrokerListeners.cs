using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace IoTServerless.Broker;

/// <summary>The broker's listeners; their ports are the bound ones once the host has started.</summary>
public sealed class BrokerListeners
{
    internal ListenOptions? Mqtt { get; set; }
    /// <summary>The MQTT/TLS listener's own socket (<see cref="MqttTransportKind.Socket"/>).</summary>
    internal IPEndPoint? MqttEndPoint { get; set; }
    internal ListenOptions? WebSockets { get; set; }
    internal ListenOptions? Api { get; set; }
    internal ListenOptions? ForwardedWebSockets { get; set; }

    public int MqttPort => MqttEndPoint?.Port ?? Mqtt?.IPEndPoint?.Port ?? 0;
    public int WebSocketPort => WebSockets?.IPEndPoint?.Port ?? 0;
    public int ApiPort => Api?.IPEndPoint?.Port ?? 0;

    /// <summary>The plain-HTTP WebSocket listener behind a certificate-forwarding ingress; 0 when off.</summary>
    public int ForwardedWebSocketPort => ForwardedWebSockets?.IPEndPoint?.Port ?? 0;
}
