using CsCheck;
using IoTServerless.Core.Topics;

namespace IoTServerless.Core.Tests.Topics;

public sealed class TopicFilterIndexTests
{
    [Fact]
    public void Matches_returnsEveryMatchingFiltersValue()
    {
        var index = new TopicFilterIndex<string>([
            ("farmA/sensor/+/data", "SoilTelemetry"),
            ("farmA/sensor/+/data", "LowHumidity"),
            ("farmA/sensor/s1/data", "Exact"),
            ("farmA/#", "Everything"),
            ("+/sensor/#", "AnyFarm"),
            ("#", "All"),
            ("farmB/+", "OtherFarm"),
            ("bad/#/filter", "Invalid"),
        ]);

        Assert.Equal(["All", "AnyFarm", "Everything", "Exact", "LowHumidity", "SoilTelemetry"], index.Matches("farmA/sensor/s1/data").Order());
        Assert.Equal(["All", "OtherFarm"], index.Matches("farmB/x").Order());
        Assert.Empty(index.Matches("$aws/things/t/shadow/update")); // wildcards never match '$' topics
        Assert.Equal(7, index.Count);
        Assert.False(new TopicFilterIndex<int>([("a/b", 1)]).Any("a/c"));
    }

    [Fact]
    public void Matches_agreesWithMqttTopicMatches()
    {
        var level = Gen.OneOfConst("a", "b", "c", "$x");
        var topic = level.Array[1, 4].Select(l => string.Join('/', l));
        var filterLevel = Gen.OneOfConst("a", "b", "+", "#");
        var filter = filterLevel.Array[1, 4].Select(l => string.Join('/', l)).Where(MqttTopic.IsValidFilter);
        Gen.Select(filter.Array[0, 6], topic).Sample((filters, t) =>
        {
            var index = new TopicFilterIndex<int>(filters.Select((f, i) => (f, i)));
            var expected = filters.Select((f, i) => (f, i)).Where(e => MqttTopic.Matches(e.f, t)).Select(e => e.i).Order();
            Assert.Equal(expected, index.Matches(t).Order());
            Assert.Equal(expected.Any(), index.Any(t));
        });
    }

    [Fact]
    public void Any_onEveryKindOfFilter_allocatesNothing()
    {
        // The broker asks for every message a device publishes whether a rule's filter wants it.
        var index = new TopicFilterIndex<bool>([("farmA/sensor/+/data", true), ("farmA/pump/p1/state", true), ("+/alarm/#", true)]);
        string[] topics = ["farmA/sensor/s1/data", "farmA/pump/p1/state", "farmB/alarm/fire", "farmA/sensor/s1/other", "nofilter"];
        foreach (var topic in topics)
        {
            index.Any(topic);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var matched = 0;
        for (var i = 0; i < 1000; i++)
        {
            foreach (var topic in topics)
            {
                matched += index.Any(topic) ? 1 : 0;
            }
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(3000, matched);
    }
}
