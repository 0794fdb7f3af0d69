using System.Text;

namespace IoTServerless.Core.Topics;

/// <summary>MQTT topic names and filters: validation and matching, with the contract's limits.</summary>
public static class MqttTopic
{
    public const int MaxTopicBytes = 256;
    public const int MaxLevels = 8;

    /// <summary>Whether <paramref name="topic"/> is a valid topic name to publish to (no wildcards).</summary>
    public static bool IsValidTopicName(string? topic, out string? error)
    {
        error = null;
        if (string.IsNullOrEmpty(topic))
        {
            error = "The topic is empty.";
        }
        else if (Encoding.UTF8.GetByteCount(topic) > MaxTopicBytes)
        {
            error = $"The topic is longer than {MaxTopicBytes} bytes.";
        }
        else if (topic.AsSpan().IndexOfAny('+', '#', '\0') >= 0)
        {
            error = "A topic name may not contain '+', '#' or NUL.";
        }
        else if (CountLevels(topic) > MaxLevels)
        {
            error = $"The topic has more than {MaxLevels} levels.";
        }
        return error is null;
    }

    /// <summary>Levels counted as the contract does: a <c>$aws/rules/{rule}/</c> prefix does not count.</summary>
    public static int CountLevels(string topic)
    {
        var span = topic.AsSpan();
        if (span.StartsWith("$aws/rules/", StringComparison.Ordinal))
        {
            var rest = span["$aws/rules/".Length..];
            var slash = rest.IndexOf('/');
            span = slash < 0 ? [] : rest[(slash + 1)..];
            if (span.IsEmpty)
            {
                return 0;
            }
        }
        return span.Count('/') + 1;
    }

    /// <summary>Whether <paramref name="filter"/> is a valid subscription filter.</summary>
    public static bool IsValidFilter(string? filter)
    {
        if (string.IsNullOrEmpty(filter) || Encoding.UTF8.GetByteCount(filter) > MaxTopicBytes || filter.Contains('\0'))
        {
            return false;
        }
        var levels = filter.Split('/');
        for (var i = 0; i < levels.Length; i++)
        {
            var level = levels[i];
            if (level.Contains('#') && (level.Length != 1 || i != levels.Length - 1))
            {
                return false;
            }
            if (level.Contains('+') && level.Length != 1)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>MQTT filter matching; a filter starting with a wildcard never matches a <c>$</c> topic.</summary>
    public static bool Matches(ReadOnlySpan<char> filter, ReadOnlySpan<char> topic)
    {
        if (!topic.IsEmpty && topic[0] == '$' && !filter.IsEmpty && filter[0] is '+' or '#')
        {
            return false;
        }
        while (true)
        {
            var fSlash = filter.IndexOf('/');
            var fLevel = fSlash < 0 ? filter : filter[..fSlash];
            if (fLevel.Length == 1 && fLevel[0] == '#')
            {
                return true;
            }
            var tSlash = topic.IndexOf('/');
            var tLevel = tSlash < 0 ? topic : topic[..tSlash];
            if (!(fLevel.Length == 1 && fLevel[0] == '+') && !fLevel.SequenceEqual(tLevel))
            {
                return false;
            }
            if (fSlash < 0 || tSlash < 0)
            {
                // "a/#" also matches "a" (the parent level).
                return fSlash < 0 && tSlash < 0 || tSlash < 0 && filter[(fSlash + 1)..] is "#";
            }
            filter = filter[(fSlash + 1)..];
            topic = topic[(tSlash + 1)..];
        }
    }

    /// <summary>The <paramref name="index"/>-th level (1-based, as AWS's topic(n)), or null.</summary>
    public static string? Level(string topic, int index)
    {
        if (index < 1)
        {
            return null;
        }
        var parts = topic.Split('/');
        return index <= parts.Length ? parts[index - 1] : null;
    }
}
