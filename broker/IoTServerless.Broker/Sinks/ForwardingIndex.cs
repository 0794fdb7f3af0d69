using IoTServerless.Core.Shadows;
using IoTServerless.Core.Topics;
using Microsoft.Extensions.Options;

namespace IoTServerless.Broker.Sinks;

/// <summary>
/// Decides which published messages leave the broker: the reserved platform topics that the
/// functions serve, and topics matched by a forwarded filter (the enabled rules' FROM filters).
/// Filters are indexed so a publish costs a hash lookup or two plus the few filters that share its
/// first level, not a scan of every filter: filters without wildcards by exact topic, the others by
/// their first level (or in a short list when that level is itself a wildcard).
/// </summary>
public sealed class ForwardingIndex(IOptions<BrokerOptions> options)
{
    const string ThingsPrefix = "$aws/things/";
    static readonly string[] PlatformPrefixes = [ThingsPrefix, "$aws/rules/", "$aws/certificates/", "$aws/provisioning-templates/"];

    sealed class Filters
    {
        public readonly HashSet<string> Exact = new(StringComparer.Ordinal);
        public readonly Dictionary<string, List<string>> ByFirstLevel = new(StringComparer.Ordinal);
        public readonly List<string> LeadingWildcard = [];
        public readonly List<string> All = [];

        public Filters(IEnumerable<string> filters)
        {
            foreach (var filter in filters.Where(MqttTopic.IsValidFilter).Distinct(StringComparer.Ordinal))
            {
                All.Add(filter);
                if (filter.AsSpan().IndexOfAny('+', '#') < 0)
                {
                    Exact.Add(filter);
                    continue;
                }
                var slash = filter.IndexOf('/');
                var first = slash < 0 ? filter : filter[..slash];
                if (first is "+" or "#")
                {
                    LeadingWildcard.Add(filter);
                    continue;
                }
                if (!ByFirstLevel.TryGetValue(first, out var list))
                {
                    ByFirstLevel[first] = list = [];
                }
                list.Add(filter);
            }
        }

        public bool Match(string topic)
        {
            if (Exact.Contains(topic))
            {
                return true;
            }
            var slash = topic.IndexOf('/');
            var first = slash < 0 ? topic : topic[..slash];
            if (ByFirstLevel.TryGetValue(first, out var candidates))
            {
                foreach (var filter in candidates)
                {
                    if (MqttTopic.Matches(filter, topic))
                    {
                        return true;
                    }
                }
            }
            foreach (var filter in LeadingWildcard)
            {
                if (MqttTopic.Matches(filter, topic))
                {
                    return true;
                }
            }
            return false;
        }
    }

    volatile Filters _filters = new(options.Value.Events.ForwardTopicFilters);

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
        return _filters.Match(topic);
    }

    static bool IsShadowTopic(string topic)
    {
        var afterThing = topic.IndexOf('/', ThingsPrefix.Length);
        return afterThing > 0 && topic.AsSpan(afterThing).StartsWith("/shadow", StringComparison.Ordinal);
    }

    /// <summary>Replaces the forwarded filters (rule changes).</summary>
    public void SetFilters(IEnumerable<string> filters) => _filters = new Filters(filters);
}
