using System.ComponentModel.DataAnnotations;

namespace IoTServerless.Broker;

/// <summary>
/// The broker's settings (section <c>Broker</c>). Each section's own limits are checked at start
/// (<see cref="Microsoft.Extensions.Options.ValidateObjectMembersAttribute"/>: data annotations do not look into nested objects otherwise).
/// </summary>
public sealed class BrokerOptions
{
    public const string SectionName = "Broker";

    [Microsoft.Extensions.Options.ValidateObjectMembers]
    public MqttListenerOptions Mqtt { get; set; } = new();

    [Microsoft.Extensions.Options.ValidateObjectMembers]
    public WebSocketListenerOptions WebSockets { get; set; } = new();

    [Microsoft.Extensions.Options.ValidateObjectMembers]
    public ApiListenerOptions Api { get; set; } = new();

    [Microsoft.Extensions.Options.ValidateObjectMembers]
    public TlsOptions Tls { get; set; } = new();

    [Microsoft.Extensions.Options.ValidateObjectMembers]
    public EventOptions Events { get; set; } = new();

    [Microsoft.Extensions.Options.ValidateObjectMembers]
    public AuthorizationOptions Authorization { get; set; } = new();
}

public sealed class AuthorizationOptions
{
    /// <summary>
    /// Check every CONNECT, PUBLISH, SUBSCRIBE and delivery against the registry and the device's
    /// policies (needs <c>Storage</c>). Off only for benchmarks of the bare gateway and transport tests.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How often the broker reads the identity change feed (revocations, policy changes).</summary>
    [Range(100, 60_000)]
    public int ChangePollMilliseconds { get; set; } = 1_000;

    /// <summary>
    /// How long certificates, attachments, things and policies stay cached for CONNECT. The change feed
    /// clears the cache on every change; this bounds staleness should a change be missed.
    /// </summary>
    [Range(1, 86_400)]
    public int CacheSeconds { get; set; } = 600;
}

public sealed class MqttListenerOptions
{
    public string BindAddress { get; set; } = "0.0.0.0";

    /// <summary>MQTT over TLS; 0 picks a free port.</summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 8883;

    /// <summary>
    /// What carries MQTT/TLS: the broker's own socket listener with SslStream straight on the socket
    /// (<see cref="MqttTransportKind.Socket"/>), or Kestrel's socket transport and HTTPS middleware.
    /// Both run the same TLS settings and connection middleware (README "Broker performance").
    /// </summary>
    public MqttTransportKind Transport { get; set; } = MqttTransportKind.Socket;

    /// <summary>A TLS handshake not finished in this time (a device gone silent, a slow-loris client) is closed.</summary>
    [Range(100, 600_000)]
    public int HandshakeTimeoutMilliseconds { get; set; } = 10_000;

    /// <summary>Connections the operating system queues for the MQTT/TLS listener before it accepts them (as Kestrel's default).</summary>
    [Range(1, 65535)]
    public int AcceptBacklog { get; set; } = 512;

    /// <summary>Largest MQTT packet accepted (the contract's 128 KB payload plus topic and properties).</summary>
    [Range(1024, 268_435_455)]
    public int MaxPacketBytes { get; set; } = 160 * 1024;

    /// <summary>
    /// Kestrel's <c>UnsafePreferInlineScheduling</c>: a socket read's completion runs the MQTT
    /// processing on its own thread instead of one more thread-pool hop. Lower latency; only safe
    /// while nothing on that path blocks (ours is asynchronous throughout).
    /// </summary>
    public bool InlineSocketScheduling { get; set; } = true;

    /// <summary>Packets queued for one connection meanwhile go out in one TLS write (README "Broker performance").</summary>
    public bool CoalesceWrites { get; set; } = true;

    /// <summary>
    /// QoS 0 PUBLISH packets from and to MQTT 3.1.x clients bypass MQTTnet's receive loop, session queue
    /// and send loop: taken as they arrive on the socket thread, encoded there, and written by the
    /// subscriber's pump (README "Broker performance"). Needs <see cref="CoalesceWrites"/>.
    /// </summary>
    public bool DirectQos0 { get; set; } = true;

    /// <summary>
    /// QoS 1 PUBLISH packets from and to MQTT 3.1.x clients bypass MQTTnet's receive loop, session
    /// queue and send loop too, and so do their PUBACKs: the pump writes each PUBACK once the event
    /// sink accepted the message, and a delivery is recorded in the subscriber's session for its PUBACK
    /// or a resumed session (README "Broker performance"). Needs <see cref="DirectQos0"/>.
    /// </summary>
    public bool DirectQos1 { get; set; } = true;

    /// <summary>Outbound bytes one connection may buffer before MQTTnet's sender waits for the socket.</summary>
    [Range(16 * 1024, 64 * 1024 * 1024)]
    public int MaxBufferedOutboundBytes { get; set; } = 256 * 1024;

    /// <summary>
    /// Deliveries to one connection not yet written to its socket before publishers to it wait
    /// (back-pressure); they go on when half have been written.
    /// </summary>
    [Range(16, 1_000_000)]
    public int MaxBacklogMessages { get; set; } = 1_000;

    /// <summary>
    /// Messages a session may queue (MQTTnet drops beyond it): it bounds offline persistent sessions,
    /// and must stay well above <see cref="MaxBacklogMessages"/>.
    /// </summary>
    [Range(100, 10_000_000)]
    public int MaxQueuedMessagesPerSession { get; set; } = 10_000;

    /// <summary>
    /// How long a publisher waits for a congested subscriber before going on: a QoS 0 message for it
    /// is then dropped (and counted), a QoS 1 message is queued in its session.
    /// </summary>
    [Range(1, 600_000)]
    public int BackPressureTimeoutMilliseconds { get; set; } = 5_000;

    /// <summary>
    /// How often MQTTnet's keep-alive monitor looks for clients silent for 1.5 × their keep-alive. Each
    /// look copies the list of connected clients and checks every one, so with a fleet connected it
    /// runs every few seconds rather than MQTTnet's 0.5 s: a silent device is dropped up to this much later.
    /// </summary>
    [Range(100, 60_000)]
    public int KeepAliveCheckIntervalMilliseconds { get; set; } = 5_000;

    /// <summary>
    /// Topics that may hold a retained message at once. A retained PUBLISH to another topic beyond it is
    /// delivered live but not kept (counted: <c>iotserverless.broker.retained.refused</c>): devices
    /// allowed <c>iot:RetainPublish</c> cannot fill the broker's memory. About 1.6 KB each.
    /// </summary>
    [Range(0, 100_000_000)]
    public int MaxRetainedMessages { get; set; } = 1_000_000;
}

public enum MqttTransportKind
{
    /// <summary>The broker's own accept loop; SslStream on a NetworkStream; no pipes in between.</summary>
    Socket,

    /// <summary>Kestrel's socket transport and HTTPS connection middleware.</summary>
    Kestrel,
}

public sealed class WebSocketListenerOptions
{
    public bool Enabled { get; set; } = true;

    public string BindAddress { get; set; } = "0.0.0.0";

    /// <summary>MQTT over secure WebSockets at <see cref="Path"/>; 443 in Azure.</summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 8443;

    public string Path { get; set; } = "/mqtt";

    /// <summary>MQTT over WebSockets behind a TLS-terminating ingress that forwards the client certificate (Azure Container Apps on 443).</summary>
    public ForwardedWebSocketOptions Forwarded { get; set; } = new();
}

/// <summary>
/// A plain-HTTP WebSocket listener for an ingress that terminates TLS, requires the device's client
/// certificate and forwards it in a header (Azure Container Apps' HTTP ingress with
/// <c>clientCertificateMode: require</c>, Envoy's <c>X-Forwarded-Client-Cert</c>). Only this listener
/// reads the header; it must be reachable only through that ingress.
/// </summary>
public sealed class ForwardedWebSocketOptions
{
    public bool Enabled { get; set; }

    public string BindAddress { get; set; } = "0.0.0.0";

    [Range(0, 65535)]
    public int Port { get; set; } = 8080;

    /// <summary>The header carrying the client certificate: Envoy's <c>Cert="…"</c> element (URL-encoded PEM), or a PEM or base64 DER certificate.</summary>
    public string Header { get; set; } = "X-Forwarded-Client-Cert";
}

public sealed class ApiListenerOptions
{
    /// <summary>The internal API; loopback locally, internal ingress in Azure.</summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    [Range(0, 65535)]
    public int Port { get; set; } = 8081;

    /// <summary>The key callers present in the <c>x-broker-key</c> header. Required; never logged.</summary>
    [Required, MinLength(16)]
    public string? Key { get; set; }
}

public sealed class TlsOptions
{
    /// <summary>PEM server certificate (its SANs must name the host devices connect to).</summary>
    [Required]
    public string? ServerCertificatePath { get; set; }

    [Required]
    public string? ServerKeyPath { get; set; }

    /// <summary>
    /// Optional PEM bundle of CAs: when set, the TLS handshake accepts only device certificates that
    /// chain to one of them. Without it any certificate inside its validity completes the handshake and
    /// CONNECT decides (registered and ACTIVE, policies), which is how AWS IoT Core accepts certificates
    /// registered without a CA.
    /// </summary>
    public string? ClientCaPath { get; set; }
}

public enum EventSinkKind
{
    /// <summary>Post CloudEvents batches to the functions' events endpoint (local runs).</summary>
    Webhook,

    /// <summary>Publish to an Event Grid custom topic (Azure).</summary>
    EventGrid,

    /// <summary>Forward nothing (benchmarks of the bare gateway).</summary>
    None,
}

public sealed class EventOptions
{
    public EventSinkKind Sink { get; set; } = EventSinkKind.Webhook;

    /// <summary>The functions' events endpoint, e.g. http://127.0.0.1:7071/api/events.</summary>
    public Uri? WebhookUrl { get; set; }

    /// <summary>Function key sent as <c>x-functions-key</c>; never logged.</summary>
    public string? WebhookKey { get; set; }

    public Uri? EventGridTopicEndpoint { get; set; }

    public string? ManagedIdentityClientId { get; set; }

    /// <summary>Minimum interval between two sends: an idle pipeline sends at once, a busy one batches what a window brings.</summary>
    [Range(0, 60_000)]
    public int BatchWindowMilliseconds { get; set; } = 20;

    /// <summary>
    /// Minimum interval between two sends while a QoS 1 publisher waits for its PUBACK (which follows
    /// the sink's acceptance). 0: the next batch goes as soon as the previous send completed, so sends
    /// are bounded by the sink's round trip (one send in flight) and QoS 1 does not pay the window.
    /// </summary>
    [Range(0, 10_000)]
    public int AcknowledgedBatchWindowMilliseconds { get; set; }

    /// <summary>
    /// Messages per batch. <see cref="MaxConcurrentSends"/> batches per sink round trip (tens of
    /// milliseconds to Event Grid) is the forwarding rate's ceiling, so batches are large; a full one goes at once.
    /// </summary>
    [Range(1, 100_000)]
    public int MaxBatchMessages { get; set; } = 2000;

    /// <summary>
    /// Batches in flight to the sink at once. The next batch is filled and sent while earlier ones
    /// wait for the sink's answer, so a round trip no longer bounds forwarding at one batch.
    /// </summary>
    [Range(1, 16)]
    public int MaxConcurrentSends { get; set; } = 2;

    /// <summary>Bytes per batch as encoded, estimated from above (Event Grid takes events up to 1 MB; payloads are base64).</summary>
    [Range(1024, 1_000_000)]
    public int MaxBatchBytes { get; set; } = 900 * 1024;

    /// <summary>Messages waiting for the sink; when full, QoS 1 publishers wait and QoS 0 is dropped.</summary>
    [Range(1, 10_000_000)]
    public int BufferCapacity { get; set; } = 20_000;

    /// <summary>Upper bound of the retry back-off while the sink fails.</summary>
    [Range(10, 600_000)]
    public int MaxRetryDelayMilliseconds { get; set; } = 5_000;

    /// <summary>Topic filters forwarded besides the reserved topics and the enabled rules' FROM filters.</summary>
    public List<string> ForwardTopicFilters { get; set; } = [];

    /// <summary>
    /// Read the enabled rules' FROM filters from the rules table (needs <c>Storage</c>) and forward what
    /// they match. Off, only <see cref="ForwardTopicFilters"/> and the reserved topics are forwarded.
    /// </summary>
    public bool RuleFilters { get; set; } = true;

    /// <summary>How often the rules' FROM filters are read; a rule change reaches the broker within about this long.</summary>
    [Range(100, 60_000)]
    public int RuleFilterPollMilliseconds { get; set; } = 2_000;
}
