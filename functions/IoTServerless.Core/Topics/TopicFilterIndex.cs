namespace IoTServerless.Core.Topics;

/// <summary>
/// Topic filters with a value each, indexed so that matching a topic costs a hash lookup or two plus the
/// few filters sharing its first level rather than a scan of every filter: filters without wildcards by
/// exact topic, the others by their first level, and a short list for filters that start with a
/// wildcard. Matching is <see cref="MqttTopic.Matches"/> (a leading wildcard never matches a <c>$</c>
/// topic). Immutable once built; build a new one on change. <see cref="Any"/> allocates nothing: the
/// broker asks it for every message a device publishes.
/// </summary>
public sealed class TopicFilterIndex<T>
{
    readonly Dictionary<string, List<(string Filter, T Value)>> _exact = new(StringComparer.Ordinal);
    readonly Dictionary<string, List<(string Filter, T Value)>> _byFirstLevel = new(StringComparer.Ordinal);
    readonly Dictionary<string, List<(string Filter, T Value)>>.AlternateLookup<ReadOnlySpan<char>> _byFirstLevelSpan;
    readonly List<(string Filter, T Value)> _leadingWildcard = [];

    /// <summary>Indexes the valid filters of <paramref name="entries"/>; invalid ones are left out.</summary>
    public TopicFilterIndex(IEnumerable<(string Filter, T Value)> entries)
    {
        _byFirstLevelSpan = _byFirstLevel.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var entry in entries)
        {
            if (!MqttTopic.IsValidFilter(entry.Filter))
            {
                continue;
            }
            Count++;
            if (entry.Filter.AsSpan().IndexOfAny('+', '#') < 0)
            {
                Add(_exact, entry.Filter, entry);
                continue;
            }
            var first = FirstLevelOf(entry.Filter).ToString();
            if (first is "+" or "#")
            {
                _leadingWildcard.Add(entry);
                continue;
            }
            Add(_byFirstLevel, first, entry);
        }
    }

    /// <summary>How many (valid) filters are indexed.</summary>
    public int Count { get; }

    static void Add(Dictionary<string, List<(string, T)>> map, string key, (string, T) entry)
    {
        if (!map.TryGetValue(key, out var list))
        {
            map[key] = list = [];
        }
        list.Add(entry);
    }

    static ReadOnlySpan<char> FirstLevelOf(string topic)
    {
        var slash = topic.IndexOf('/');
        return slash < 0 ? topic : topic.AsSpan(0, slash);
    }

    /// <summary>The values of every filter that matches <paramref name="topic"/>.</summary>
    public IEnumerable<T> Matches(string topic)
    {
        if (_exact.TryGetValue(topic, out var exact))
        {
            foreach (var (_, value) in exact)
            {
                yield return value;
            }
        }
        if (_byFirstLevel.Count > 0 && _byFirstLevelSpan.TryGetValue(FirstLevelOf(topic), out var candidates))
        {
            foreach (var (filter, value) in candidates)
            {
                if (MqttTopic.Matches(filter, topic))
                {
                    yield return value;
                }
            }
        }
        foreach (var (filter, value) in _leadingWildcard)
        {
            if (MqttTopic.Matches(filter, topic))
            {
                yield return value;
            }
        }
    }

    /// <summary>Whether any filter matches <paramref name="topic"/>; what <see cref="Matches"/> would find first, with no iterator and no substring.</summary>
    public bool Any(string topic)
    {
        if (_exact.ContainsKey(topic))
        {
            return true; // a list is made with its first filter
        }
        if (_byFirstLevel.Count > 0 && _byFirstLevelSpan.TryGetValue(FirstLevelOf(topic), out var candidates))
        {
            foreach (var (filter, _) in candidates)
            {
                if (MqttTopic.Matches(filter, topic))
                {
                    return true;
                }
            }
        }
        foreach (var (filter, _) in _leadingWildcard)
        {
            if (MqttTopic.Matches(filter, topic))
            {
                return true;
            }
        }
        return false;
    }
}
