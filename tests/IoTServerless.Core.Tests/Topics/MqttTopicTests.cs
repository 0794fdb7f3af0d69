using System.Text;
using IoTServerless.Core.Topics;

namespace IoTServerless.Core.Tests.Topics;

public sealed class MqttTopicTests
{
    static string Levels(int count) => string.Join('/', Enumerable.Range(1, count).Select(i => "l" + i));

    // ---- IsValidTopicName ----

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void IsValidTopicName_empty_isRejected(string? topic)
    {
        Assert.False(MqttTopic.IsValidTopicName(topic, out var error));
        Assert.NotNull(error);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("a/b/c")]
    [InlineData("/")]
    [InlineData("a//b")]
    [InlineData("/a/")]
    [InlineData("$aws/things/pump-1/shadow/update")]
    [InlineData("sensors/température/°C")]
    public void IsValidTopicName_ordinaryTopic_isAccepted(string topic)
    {
        Assert.True(MqttTopic.IsValidTopicName(topic, out var error));
        Assert.Null(error);
    }

    [Theory]
    [InlineData("+")]
    [InlineData("#")]
    [InlineData("a/+/b")]
    [InlineData("a/#")]
    [InlineData("a+b")]
    [InlineData("a#b")]
    [InlineData("a\0b")]
    [InlineData("\0")]
    public void IsValidTopicName_wildcardOrNul_isRejected(string topic)
    {
        Assert.False(MqttTopic.IsValidTopicName(topic, out var error));
        Assert.NotNull(error);
    }

    [Fact]
    public void IsValidTopicName_256AsciiBytes_isAccepted()
        => Assert.True(MqttTopic.IsValidTopicName(new string('a', 256), out _));

    [Fact]
    public void IsValidTopicName_257AsciiBytes_isRejected()
    {
        Assert.False(MqttTopic.IsValidTopicName(new string('a', 257), out var error));
        Assert.Contains("256", error);
    }

    [Fact]
    public void IsValidTopicName_twoByteCharactersAtTheLimit_countsBytesNotChars()
    {
        // 'é' is two bytes in UTF-8: 128 of them are 256 bytes, 129 are 258.
        Assert.True(MqttTopic.IsValidTopicName(new string('é', 128), out _));
        Assert.False(MqttTopic.IsValidTopicName(new string('é', 129), out _));
    }

    [Fact]
    public void IsValidTopicName_fourByteCharactersOverTheLimit_isRejectedAlthoughFewChars()
    {
        // U+1F331 is four UTF-8 bytes (two UTF-16 chars): 64 fit exactly, 65 do not though only 130 chars.
        var sprout = char.ConvertFromUtf32(0x1F331);
        var atLimit = string.Concat(Enumerable.Repeat(sprout, 64));
        var over = atLimit + sprout;
        Assert.Equal(256, Encoding.UTF8.GetByteCount(atLimit));
        Assert.True(MqttTopic.IsValidTopicName(atLimit, out _));
        Assert.Equal(130, over.Length);
        Assert.False(MqttTopic.IsValidTopicName(over, out _));
    }

    [Fact]
    public void IsValidTopicName_eightLevels_isAccepted()
        => Assert.True(MqttTopic.IsValidTopicName(Levels(8), out _));

    [Fact]
    public void IsValidTopicName_nineLevels_isRejected()
    {
        Assert.False(MqttTopic.IsValidTopicName(Levels(9), out var error));
        Assert.Contains("levels", error);
    }

    [Fact]
    public void IsValidTopicName_emptyLevelsCount_nineLevelsOfSlashesRejected()
    {
        Assert.True(MqttTopic.IsValidTopicName("///////", out _)); // 8 empty levels
        Assert.False(MqttTopic.IsValidTopicName("////////", out _)); // 9 empty levels
    }

    [Fact]
    public void IsValidTopicName_basicIngestPrefix_doesNotCountTowardsLevels()
    {
        Assert.True(MqttTopic.IsValidTopicName("$aws/rules/myRule/" + Levels(8), out _));
        Assert.False(MqttTopic.IsValidTopicName("$aws/rules/myRule/" + Levels(9), out _));
    }

    [Fact]
    public void IsValidTopicName_otherAwsTopics_countEveryLevel()
    {
        // Only the $aws/rules/{rule}/ prefix is free; "$aws/things/..." counts from the first level.
        Assert.True(MqttTopic.IsValidTopicName("$aws/things/t/" + Levels(5), out _));
        Assert.False(MqttTopic.IsValidTopicName("$aws/things/t/" + Levels(6), out _));
    }

    [Theory]
    [InlineData("a", 1)]
    [InlineData("a/b", 2)]
    [InlineData("/", 2)]
    [InlineData("a//b", 3)]
    [InlineData("$aws/rules/r/a", 1)]
    [InlineData("$aws/rules/r/a/b/c", 3)]
    [InlineData("$aws/rules/r", 0)]
    [InlineData("$aws/rules/r/", 0)]
    [InlineData("$aws/rulesx/r/a", 4)]
    [InlineData("$aws/things/t/shadow/update", 5)]
    public void CountLevels_topic_countsAsContract(string topic, int expected)
        => Assert.Equal(expected, MqttTopic.CountLevels(topic));

    // ---- IsValidFilter ----

    [Theory]
    [InlineData("#")]
    [InlineData("+")]
    [InlineData("a")]
    [InlineData("a/b")]
    [InlineData("a/#")]
    [InlineData("a/+")]
    [InlineData("+/+")]
    [InlineData("+/#")]
    [InlineData("a/+/c/#")]
    [InlineData("/")]
    [InlineData("a//b")]
    [InlineData("/#")]
    [InlineData("$aws/events/presence/+/+")]
    [InlineData("$share/group/a/+")]
    public void IsValidFilter_validFilter_isAccepted(string filter)
        => Assert.True(MqttTopic.IsValidFilter(filter));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("a/#/b")]
    [InlineData("#/a")]
    [InlineData("##")]
    [InlineData("a#")]
    [InlineData("a/b#")]
    [InlineData("#a")]
    [InlineData("a+")]
    [InlineData("a/+b/c")]
    [InlineData("++")]
    [InlineData("+a/b")]
    [InlineData("a/\0/b")]
    public void IsValidFilter_invalidFilter_isRejected(string? filter)
        => Assert.False(MqttTopic.IsValidFilter(filter));

    [Fact]
    public void IsValidFilter_overByteLimit_isRejected()
    {
        Assert.True(MqttTopic.IsValidFilter(new string('é', 128)));
        Assert.False(MqttTopic.IsValidFilter(new string('é', 129)));
        Assert.False(MqttTopic.IsValidFilter(new string('a', 255) + "/#"));
    }

    // ---- Matches ----

    [Theory]
    // '#' matches everything (not starting with '$'), including the parent level.
    [InlineData("#", "a", true)]
    [InlineData("#", "a/b/c", true)]
    [InlineData("#", "/", true)]
    [InlineData("a/#", "a", true)]
    [InlineData("a/#", "a/b", true)]
    [InlineData("a/#", "a/b/c", true)]
    [InlineData("a/#", "a/", true)]
    [InlineData("a/#", "b", false)]
    [InlineData("a/#", "ab", false)]
    [InlineData("a/b/#", "a", false)]
    [InlineData("a/b/#", "a/b", true)]
    [InlineData("a/b/#", "a/c", false)]
    // MQTT 3.1.1 §4.7.1.2 examples.
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1", true)]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1/ranking", true)]
    [InlineData("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true)]
    [InlineData("sport/#", "sport", true)]
    // MQTT 3.1.1 §4.7.1.3 examples.
    [InlineData("sport/tennis/+", "sport/tennis/player1", true)]
    [InlineData("sport/tennis/+", "sport/tennis/player2", true)]
    [InlineData("sport/tennis/+", "sport/tennis/player1/ranking", false)]
    [InlineData("sport/+", "sport", false)]
    [InlineData("sport/+", "sport/", true)]
    [InlineData("+/+", "/finance", true)]
    [InlineData("/+", "/finance", true)]
    [InlineData("+", "/finance", false)]
    [InlineData("+", "a", true)]
    [InlineData("+/b", "a/b", true)]
    [InlineData("+/b", "a/c", false)]
    [InlineData("a/+/c", "a/b/c", true)]
    [InlineData("a/+/c", "a/b/d", false)]
    [InlineData("a/+/c", "a/b/c/d", false)]
    [InlineData("+/+/+", "a/b", false)]
    [InlineData("+/#", "a", true)]
    // Exact and empty levels.
    [InlineData("a/b", "a/b", true)]
    [InlineData("a/b", "a/b/", false)]
    [InlineData("a/b", "a", false)]
    [InlineData("a", "a/b", false)]
    [InlineData("a//b", "a//b", true)]
    [InlineData("a//b", "a/b", false)]
    [InlineData("a/b", "a//b", false)]
    [InlineData("a/+/b", "a//b", true)]
    [InlineData("a/+/+", "a//", true)]
    [InlineData("/", "/", true)]
    [InlineData("+/+", "/", true)]
    [InlineData("+", "/", false)]
    [InlineData("a/b", "A/b", false)]
    // '$' topics: never matched by a filter starting with a wildcard; matched by explicit '$' filters.
    [InlineData("#", "$SYS/x", false)]
    [InlineData("+/x", "$SYS/x", false)]
    [InlineData("+/#", "$aws/things/t/shadow/update", false)]
    [InlineData("$SYS/#", "$SYS/x", true)]
    [InlineData("$SYS/+", "$SYS/x", true)]
    [InlineData("$aws/events/presence/+/+", "$aws/events/presence/connected/pump-1", true)]
    [InlineData("$aws/events/presence/+/+", "$aws/events/presence/disconnected/pump-1", true)]
    [InlineData("$aws/events/presence/+/+", "$aws/events/presence/connected", false)]
    [InlineData("$aws/events/presence/+/+", "$aws/events/presence/connected/pump-1/x", false)]
    [InlineData("$aws/events/presence/+/+", "$aws/events/subscriptions/subscribed/pump-1", false)]
    [InlineData("$aws/events/presence/+/+", "aws/events/presence/connected/pump-1", false)]
    [InlineData("a/#", "$a/b", false)]
    [InlineData("x/$a", "x/$a", true)]
    [InlineData("x/+", "x/$a", true)]
    public void Matches_specCases_matchAsMqtt311(string filter, string topic, bool expected)
        => Assert.Equal(expected, MqttTopic.Matches(filter, topic));

    [Fact]
    public void Matches_presenceFilterConstant_matchesPresenceTopics()
    {
        Assert.True(MqttTopic.Matches(ReservedTopics.PresenceFilter, ReservedTopics.PresenceConnected("pump-7")));
        Assert.True(MqttTopic.Matches(ReservedTopics.PresenceFilter, ReservedTopics.PresenceDisconnected("pump-7")));
    }

    /// <summary>Random valid filters and topic names, compared with an obviously correct matcher.</summary>
    [Fact]
    public void Matches_randomFiltersAndTopics_agreesWithReference()
    {
        var random = new Random(20240611);
        string[] topicLevels = ["", "a", "b", "ab", "$", "$a"];
        var matched = 0;
        const int Cases = 50_000;
        for (var i = 0; i < Cases; i++)
        {
            var topic = RandomTopic(random, topicLevels);
            var filter = random.Next(4) == 0 ? TopicToFilter(random, topic) : RandomFilter(random, topicLevels);
            if (topic.Length == 0 || filter.Length == 0)
            {
                continue; // neither a topic name nor a filter may be empty
            }
            Assert.True(MqttTopic.IsValidFilter(filter), filter);
            var expected = ReferenceMatches(filter, topic);
            var actual = MqttTopic.Matches(filter, topic);
            if (expected != actual)
            {
                Assert.Fail($"Matches(\"{filter}\", \"{topic}\") returned {actual}; the reference says {expected}.");
            }
            matched += actual ? 1 : 0;
        }
        // The generator must exercise both outcomes substantially, or the comparison proves little.
        Assert.InRange(matched, Cases / 10, Cases * 9 / 10);
    }

    static string RandomTopic(Random random, string[] alphabet)
    {
        var count = random.Next(1, 6);
        return string.Join('/', Enumerable.Range(0, count).Select(_ => alphabet[random.Next(alphabet.Length)]));
    }

    static string RandomFilter(Random random, string[] alphabet)
    {
        var count = random.Next(1, 6);
        var levels = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            var pick = random.Next(alphabet.Length + 3);
            var last = i == count - 1;
            levels.Add(pick < alphabet.Length ? alphabet[pick] : pick == alphabet.Length && last ? "#" : "+");
        }
        return string.Join('/', levels);
    }

    /// <summary>A filter derived from the topic (so matches are common), with some levels wildcarded.</summary>
    static string TopicToFilter(Random random, string topic)
    {
        var levels = topic.Split('/').Select(l => random.Next(3) == 0 ? "+" : l).ToList();
        var roll = random.Next(4);
        if (roll == 0)
        {
            levels.Add("#");
        }
        else if (roll == 1 && levels.Count > 1)
        {
            levels[^1] = "#";
        }
        return string.Join('/', levels);
    }

    /// <summary>MQTT 3.1.1 §4.7, written for clarity: split into levels and recurse.</summary>
    static bool ReferenceMatches(string filter, string topic)
    {
        var f = filter.Split('/');
        var t = topic.Split('/');
        if (topic.StartsWith('$') && (f[0] == "+" || f[0] == "#"))
        {
            return false;
        }
        return Match(f, 0, t, 0);

        static bool Match(string[] f, int i, string[] t, int j)
        {
            if (i == f.Length)
            {
                return j == t.Length;
            }
            if (f[i] == "#")
            {
                // Matches the parent level and any number of child levels.
                return true;
            }
            if (j == t.Length)
            {
                return false;
            }
            return (f[i] == "+" || f[i] == t[j]) && Match(f, i + 1, t, j + 1);
        }
    }

    // ---- Level ----

    [Theory]
    [InlineData("a/b/c", 1, "a")]
    [InlineData("a/b/c", 2, "b")]
    [InlineData("a/b/c", 3, "c")]
    [InlineData("a/b/c", 4, null)]
    [InlineData("a/b/c", 0, null)]
    [InlineData("a/b/c", -1, null)]
    [InlineData("a//c", 2, "")]
    [InlineData("/a", 1, "")]
    [InlineData("a/", 2, "")]
    [InlineData("single", 1, "single")]
    [InlineData("$aws/things/pump-1/shadow/update", 3, "pump-1")]
    public void Level_index_returnsOneBasedLevelOrNull(string topic, int index, string? expected)
        => Assert.Equal(expected, MqttTopic.Level(topic, index));
}
