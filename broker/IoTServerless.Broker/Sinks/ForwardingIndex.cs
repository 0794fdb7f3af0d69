using IoTServerless.Core.Shadows;
using IoTServerless.Core.Topics;
using Microsoft.Extensions.Options;

namespace IoTServerless.Broker.Sinks;

/// <summary>
/// Decides which published messages leave the broker: the reserved platform topics that the
/// functions serve, and topics matched by a forwarded filter (the enabled rules' FROM filters).
/// </summary>
public sealed class ForwardingIndex(IOptions<BrokerOptions> options)
{
    const string ThingsPrefix = "$aws/things/";
    static readonly string[] PlatformPrefixes = [ThingsPrefix, "$aws/rules/", "$aws/certificates/", "$aws/provisioning-templates/"];

    volatile string[] _filters = [.. options.Value.Events.ForwardTopicFilters.Where(MqttTopic.IsValidFilter)];

    public bool ShouldForward(string topic)
    {
        if (topic.Length > 0 && topic[0] == '$')
        {
            foreach (var prefix in PlatformPrefixes)
            {
                if (topic.StartsWith(prefix, StringComparison.Ordinal))
                {
                    // Of a shadow's topics only the requests come from devices; the answers and
                    // notifications (…/accepted, …/delta, …/documents) are the platform's alone.
                    return !IsShadowTopic(topic) || ShadowTopic.TryParse(topic, out _);
                }
            }
            return false;
        }
        foreach (var filter in _filters)
        {
            if (MqttTopic.Matches(filter, topic))
            {
                return true;
            }
        }
        return false;
    }

    static bool IsShadowTopic(string topic)
    {
        var afterThing = topic.IndexOf('/', ThingsPrefix.Length);
        return afterThing > 0 && topic.AsSpan(afterThing).StartsWith("/shadow", StringComparison.Ordinal);
    }

    /// <summary>Replaces the forwarded filters (rule changes).</summary>
    public void SetFilters(IEnumerable<string> filters) => _filters = [.. filters.Where(MqttTopic.IsValidFilter)];
}
