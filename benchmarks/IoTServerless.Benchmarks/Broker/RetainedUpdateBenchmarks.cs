using BenchmarkDotNet.Attributes;
using IoTServerless.Broker.Mqtt;
using MQTTnet;

namespace IoTServerless.Benchmarks.Broker;

/// <summary>
/// What a retained PUBLISH costs the store when its topic has one already (a pump's desired state
/// changing): the broker's topic tree (<see cref="RetainedMessages.Retain"/>: split, walk, own payload
/// copy) against what MQTTnet 5.2 does (one dictionary entry replaced under a lock) as the baseline.
/// </summary>
[MemoryDiagnoser]
public class RetainedUpdateBenchmarks
{
    const int Retained = 20_000;
    readonly RetainedMessages _tree = new();
    readonly Dictionary<string, MqttApplicationMessage> _mqttnet = new(StringComparer.Ordinal);
    readonly MqttApplicationMessage[] _updates = new MqttApplicationMessage[Retained];
    int _next;

    [GlobalSetup]
    public void Setup()
    {
        RetainedMessagesBenchmarks.Fill(_tree, _mqttnet, Retained);
        for (var i = 0; i < Retained; i++)
        {
            _updates[i] = RetainedMessagesBenchmarks.PumpCommand(i, "on");
        }
    }

    MqttApplicationMessage Next() => _updates[_next++ % Retained];

    [Benchmark(Baseline = true, Description = "MQTTnet 5.2: replace the dictionary entry (baseline)")]
    public void DictionaryReplace()
    {
        var message = Next();
        lock (_mqttnet)
        {
            _mqttnet[message.Topic] = message;
        }
    }

    [Benchmark(Description = "topic tree: replace the topic's message")]
    public void TreeReplace() => _tree.Retain(Next());
}
