using BenchmarkDotNet.Attributes;
using IoTServerless.Broker.Mqtt;
using MQTTnet;

namespace IoTServerless.Benchmarks.Broker;

/// <summary>
/// What a device's SUBSCRIBE costs in retained messages, with one retained message per device of a
/// fleet (its desired state): the broker's topic tree (<see cref="RetainedMessages"/>) against what
/// MQTTnet 5.2 does (copy every retained message, compare each with the filter) as the baseline.
/// </summary>
[MemoryDiagnoser]
public class RetainedMessagesBenchmarks
{
    readonly RetainedMessages _tree = new();
    readonly Dictionary<string, MqttApplicationMessage> _mqttnet = new(StringComparer.Ordinal);

    [Params(1_000, 20_000, 100_000)]
    public int Retained { get; set; }

    string _filter = null!;

    [GlobalSetup]
    public void Setup()
    {
        Fill(_tree, _mqttnet, Retained);
        _filter = $"farmA/pump/pump-{Retained / 2}/+";
    }

    /// <summary>A fleet's retained messages, one desired state per pump, in both stores.</summary>
    internal static void Fill(RetainedMessages tree, Dictionary<string, MqttApplicationMessage> mqttnet, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var message = PumpCommand(i, "off");
            tree.Retain(message);
            mqttnet[message.Topic] = message;
        }
    }

    internal static MqttApplicationMessage PumpCommand(int pump, string state)
        => new MqttApplicationMessageBuilder().WithTopic($"farmA/pump/pump-{pump}/cmd").WithPayload($$"""{"state":"{{state}}"}""").WithRetainFlag().Build();

    [Benchmark(Baseline = true, Description = "MQTTnet 5.2: copy all, compare each (baseline)")]
    public int CopyAndCompareAll()
    {
        var all = new List<MqttApplicationMessage>(_mqttnet.Values);
        var matches = 0;
        foreach (var message in all)
        {
            if (MqttTopicFilterComparer.Compare(message.Topic, _filter) == MqttTopicFilterCompareResult.IsMatch)
            {
                matches++;
            }
        }
        return matches;
    }

    [Benchmark(Description = "topic tree: walk the filter's levels")]
    public int TreeMatch() => _tree.Match(_filter).Count;
}
