using System.Diagnostics.Metrics;

namespace IoTServerless.Broker.Sinks;

/// <summary>The broker's instruments (System.Diagnostics.Metrics, OpenTelemetry-ready).</summary>
public sealed class BrokerMetrics : IDisposable
{
    public const string MeterName = "IoTServerless.Broker";

    readonly Meter _meter;

    public BrokerMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
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

    public void Dispose() => _meter.Dispose();
}
