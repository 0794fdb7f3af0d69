using Xunit;

namespace IoTServerless.Broker.Tests.Mqtt;

/// <summary>
/// MQTT's rules for matching a topic against a filter (MQTT 3.1.1 §4.7), for each of the broker's
/// structures that match them its own way: the subscriber index and the retained messages' tree.
/// </summary>
public sealed class MqttMatchingCases : TheoryData<string, string, bool>
{
    public MqttMatchingCases()
    {
        Add("a/b", "a/b", true);
        Add("a/b", "a/b/c", false);
        Add("a/b", "a", false);
        Add("a/+", "a/b", true);
        Add("a/+", "a/", true);
        Add("a/+", "a", false);
        Add("a/+", "a/b/c", false);
        Add("+/b", "/b", true);
        Add("+", "a", true);
        Add("+", "a/b", false);
        Add("+/+", "a/b", true);
        Add("a/#", "a", true);
        Add("a/#", "a/b/c", true);
        Add("a/#", "ab", false);
        Add("#", "a/b/c", true);
        Add("a/+/c/#", "a/x/c", true);
        Add("a/+/c/#", "a/x/d/c", false);
        Add("$aws/things/+/shadow/update/delta", "$aws/things/pump-1/shadow/update/delta", true);
        Add("$aws/things/+/shadow/update/delta", "$aws/things/pump-1/shadow/update/accepted", false);
    }
}
