using IoTServerless.Core.Shadows;
using IoTServerless.Core.Topics;
using Microsoft.Extensions.Options;

namespace IoTServerless.Broker.Sinks;

/// <summary>
/// Decides which published messages leave the broker: the reserved platform topics that the
/// functions serve, and topics matched by a forwarded filter (the enabled rules' FROM filters).
/// The filters are a <see cref="TopicFilterIndex{T}"/>: a publish costs a hash lookup or two plus the few
/// filters that share its first level, not a scan of every filter.
/// </summary>
public sealed class ForwardingIndex(IOptions<BrokerOptions> options)
{
    const string ThingsPrefix = "$aws/things/";
    static readonly string[] PlatformPrefixes = [ThingsPrefix, "$aws/rules/", "$aws/certificates/", "$aws/provisioning-templates/"];

    sealed record Filters(TopicFilterIndex<bool> Index, IReadOnlyList<string> All)
    {
        public static Filters Of(IEnumerable<string> filters)
        {
            var valid = filters.Where(MqttTopic.IsValidFilter).Distinct(StringComparer.Ordinal).ToList();
            return new Filters(new TopicFilterIndex<bool>(valid.Select(f => (f, true))), valid);
        }
    }

    volatile Filters _filters = Filters.Of(options.Value.Events.ForwardTopicFilters);

    /// <summary>The valid filters in force.</summary>
    public IReadOnlyList<string> CurrentFilters => _filters.All;

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
        return _filters.Index.Any(topic);
    }

    static bool IsShadowTopic(string topic)
    {
        var afterThing = topic.IndexOf('/', ThingsPrefix.Length);
        return afterThing > 0 && topic.AsSpan(afterThing).StartsWith("/shadow", StringComparison.Ordinal);
    }

    /// <summary>Replaces the forwarded filters (rule changes).</summary>
    public void SetFilters(IEnumerable<string> filters) => _filters = Filters.Of(filters);
}
