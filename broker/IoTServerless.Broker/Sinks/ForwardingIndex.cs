using IoTServerless.Core.Topics;
using Microsoft.Extensions.Options;

namespace IoTServerless.Broker.Sinks;

/// <summary>
/// Decides which published messages leave the broker: the reserved platform topics that the
/// functions serve, and topics matched by a forwarded filter (the enabled rules' FROM filters).
/// </summary>
public sealed class ForwardingIndex(IOptions<BrokerOptions> options)
{
    static readonly string[] PlatformPrefixes = ["$aws/things/", "$aws/rules/", "$aws/certificates/", "$aws/provisioning-templates/"];

    volatile string[] _filters = [.. options.Value.Events.ForwardTopicFilters.Where(MqttTopic.IsValidFilter)];

    public bool ShouldForward(string topic)
    {
        if (topic.Length > 0 && topic[0] == '$')
        {
            foreach (var prefix in PlatformPrefixes)
            {
                if (topic.StartsWith(prefix, StringComparison.Ordinal))
                {
                    return true;
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

    /// <summary>Replaces the forwarded filters (rule changes).</summary>
    public void SetFilters(IEnumerable<string> filters) => _filters = [.. filters.Where(MqttTopic.IsValidFilter)];
}
