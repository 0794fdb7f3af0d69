using System.Diagnostics.Metrics;
using IoTServerless.Broker.Mqtt;

namespace IoTServerless.Broker.Sinks;

/// <summary>The broker's instruments (System.Diagnostics.Metrics, OpenTelemetry-ready).</summary>
public sealed class BrokerMetrics : IDisposable
{
    public const string MeterName = "IoTServerless.Broker";

    readonly Meter _meter;

    public BrokerMetrics(IMeterFactory meterFactory, BrokerTraffic traffic, OutboundGates gates, RetainedMessages retained)
    {
        _meter = meterFactory.Create(MeterName);
        _meter.CreateObservableGauge("iotserverless.broker.retained.messages", () => retained.Count, "{message}", "Topics with a retained message.");
        _meter.CreateObservableCounter("iotserverless.broker.retained.refused", () => retained.Refused, "{message}", "Retained messages delivered live but not kept: Mqtt:MaxRetainedMessages topics had one.");
        _meter.CreateObservableGauge("iotserverless.broker.congested_connections", () => gates.CongestedCount, "{connection}", "Connections whose outbound buffer is full, holding back their publishers.");
        _meter.CreateObservableCounter("iotserverless.broker.messages.received", () => traffic.PublishesIn, "{message}", "PUBLISH packets received from clients.");
        _meter.CreateObservableCounter("iotserverless.broker.messages.sent", () => traffic.PublishesOut, "{message}", "PUBLISH packets delivered to clients.");
        _meter.CreateObservableCounter("iotserverless.broker.messages.received_direct", () => traffic.DirectIn, "{message}", "Of the PUBLISH packets received, the QoS 0 ones taken on the socket thread, past MQTTnet's receive loop.");
        _meter.CreateObservableCounter("iotserverless.broker.messages.dispatched_direct", () => new[]
        {
            new Measurement<long>(traffic.DispatchedDirect, new KeyValuePair<string, object?>("source", "device")),
            new Measurement<long>(traffic.PlatformDispatchedDirect, new KeyValuePair<string, object?>("source", "platform")),
        }, "{message}", "Messages dispatched through the broker's subscriber index instead of MQTTnet's dispatch, by source: devices (of those taken on the socket thread) and the platform (lifecycle events, the internal API).");
        _meter.CreateObservableCounter("iotserverless.broker.messages.sent_direct", () => traffic.DirectOut, "{message}", "Of the PUBLISH packets delivered, the QoS 0 ones written straight from the publisher's thread, bypassing MQTTnet's session queue.");
        _meter.CreateObservableCounter("iotserverless.broker.pump.wakes", () => new[]
        {
            new Measurement<long>(traffic.PumpWakesInline, new KeyValuePair<string, object?>("thread", "inline")),
            new Measurement<long>(traffic.PumpWakesPooled, new KeyValuePair<string, object?>("thread", "pool")),
        }, "{wake}", "Connection pumps woken to write queued packets, by where they ran: inline on the waking thread, or on the thread pool during a burst of deliveries to the connection.");
        _meter.CreateObservableCounter("iotserverless.broker.bytes.received", () => traffic.BytesIn, "By", "MQTT bytes received (inside TLS).");
        _meter.CreateObservableCounter("iotserverless.broker.bytes.sent", () => traffic.BytesOut, "By", "MQTT bytes sent (inside TLS).");
        _meter.CreateObservableCounter("iotserverless.broker.packets.sent", () => traffic.PacketsOut, "{packet}", "MQTT packets sent.");
        _meter.CreateObservableCounter("iotserverless.broker.writes", () => traffic.Writes, "{write}", "TLS writes that carried the packets sent (packets.sent / writes is the coalescing factor).");
        _meter.CreateObservableCounter("iotserverless.broker.tls.handshakes", () => traffic.Handshakes, "{handshake}", "TLS handshakes completed on the MQTT/TLS listener.");
        _meter.CreateObservableCounter("iotserverless.broker.tls.handshake_failures", () => traffic.HandshakesFailed, "{handshake}", "TLS handshakes on the MQTT/TLS listener that failed (certificate refused, protocol, timeout, not TLS).");
        AuthorizationDenials = _meter.CreateCounter<long>("iotserverless.broker.authorization.denials", "{request}", "Requests refused by policy, by action (connect, publish, subscribe, receive).");
        DeliveryWait = _meter.CreateHistogram<double>("iotserverless.broker.backpressure", "ms", "Time a publisher waited for a congested subscriber (its socket not read meanwhile).");
        DeliveryDropped = _meter.CreateCounter<long>("iotserverless.broker.messages.dropped", "{message}", "QoS 0 deliveries dropped because the subscriber stayed congested past the back-pressure timeout.");
        BackPressure = _meter.CreateHistogram<double>("iotserverless.broker.events.backpressure", "ms", "Time a QoS 1 publisher waited for room in the full event buffer.");
        Forwarded = _meter.CreateCounter<long>("iotserverless.broker.events.forwarded", "{message}", "Messages accepted by the event sink.");
        Dropped = _meter.CreateCounter<long>("iotserverless.broker.events.dropped", "{message}", "QoS 0 messages dropped because the event buffer was full.");
        SinkFailures = _meter.CreateCounter<long>("iotserverless.broker.events.sink_failures", "{batch}", "Batches the sink did not accept (retried).");
        BatchSize = _meter.CreateHistogram<int>("iotserverless.broker.events.batch_size", "{message}", "Messages per batch sent to the sink.");
        SinkLatency = _meter.CreateHistogram<double>("iotserverless.broker.events.sink_latency", "ms", "Time for the sink to accept a batch.");
        Connections = _meter.CreateUpDownCounter<long>("iotserverless.broker.connections", "{connection}", "Connected MQTT clients.");
    }

    public Counter<long> Forwarded { get; }
    public Counter<long> Dropped { get; }
    public Counter<long> SinkFailures { get; }
    public Histogram<int> BatchSize { get; }
    public Histogram<double> SinkLatency { get; }
    public UpDownCounter<long> Connections { get; }
    public Counter<long> AuthorizationDenials { get; }
    public Histogram<double> BackPressure { get; }
    public Histogram<double> DeliveryWait { get; }
    public Counter<long> DeliveryDropped { get; }

    public void Denied(string action) => AuthorizationDenials.Add(1, new KeyValuePair<string, object?>("action", action));

    public void Dispose() => _meter.Dispose();
}
