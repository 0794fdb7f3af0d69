using System.Collections;
using BenchmarkDotNet.Attributes;
using IoTServerless.Broker.Mqtt;

namespace IoTServerless.Benchmarks.Broker;

/// <summary>
/// What a fleet's subscriptions cost the broker's subscriber index, 1,000 devices at a time: each
/// device's command filter with a wildcard level (<c>farmA/pump/{id}/+/cmd</c>, a node chain of its
/// own in the index's tree) against the same filter without one (one dictionary entry) as the baseline.
/// </summary>
[MemoryDiagnoser]
public class SubscriberIndexBenchmarks
{
    const int Devices = 1_000;
    static readonly IDictionary Session = new Hashtable();
    readonly string[] _ids = [.. Enumerable.Range(0, Devices).Select(i => $"pump-{i}")];

    [Benchmark(Baseline = true, Description = "1,000 devices, filter without wildcards (baseline)")]
    public SubscriberIndex Exact()
    {
        var index = new SubscriberIndex();
        foreach (var id in _ids)
        {
            index.Subscribed(id, Session, $"farmA/pump/{id}/cmd");
        }
        return index;
    }

    [Benchmark(Description = "1,000 devices, filter with a '+' level")]
    public SubscriberIndex Wildcard()
    {
        var index = new SubscriberIndex();
        foreach (var id in _ids)
        {
            index.Subscribed(id, Session, $"farmA/pump/{id}/+/cmd");
        }
        return index;
    }
}
