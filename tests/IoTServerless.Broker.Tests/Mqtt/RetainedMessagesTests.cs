using System.Buffers;
using System.Text;
using IoTServerless.Broker.Mqtt;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTServerless.Broker.Tests.Mqtt;

public sealed class RetainedMessagesTests
{
    static MqttApplicationMessage Published(string topic, string payload, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtMostOnce)
        => new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(qos).WithRetainFlag().Build();

    static List<string> Topics(RetainedMessages store, string filter) => [.. store.Match(filter).Select(m => m.Topic).Order(StringComparer.Ordinal)];

    [Theory]
    [ClassData(typeof(MqttMatchingCases))]
    [InlineData("#", "/", true)]
    [InlineData("#", "$aws/things/pump-1/shadow/update", false)] // no wildcard first level matches "$…" (MQTT 3.1.1 §4.7.2)
    [InlineData("+/things/pump-1/shadow/update", "$aws/things/pump-1/shadow/update", false)]
    [InlineData("$aws/things/+/shadow/#", "$aws/things/pump-1/shadow/update", true)]
    public void Match_ofAFilterAgainstOneRetainedTopic_followsMqttsMatchingRules(string filter, string topic, bool matches)
    {
        var store = new RetainedMessages();
        store.Retain(Published(topic, "x"));

        Assert.Equal(matches ? [topic] : [], Topics(store, filter));
    }

    [Fact]
    public void Match_amongAFleetsRetainedMessages_findsExactlyTheMatchingOnes()
    {
        var store = new RetainedMessages();
        for (var i = 0; i < 1_000; i++)
        {
            store.Retain(Published($"farm/pump-{i}/cmd", "off"));
            store.Retain(Published($"farm/pump-{i}/config", "{}"));
        }

        Assert.Equal(2_000, store.Count);
        Assert.Equal(["farm/pump-7/cmd"], Topics(store, "farm/pump-7/+").Where(t => t.EndsWith("/cmd", StringComparison.Ordinal)));
        Assert.Equal(["farm/pump-7/cmd", "farm/pump-7/config"], Topics(store, "farm/pump-7/#"));
        Assert.Equal(1_000, store.Match("farm/+/cmd").Count);
        Assert.Equal(2_000, store.Match("#").Count);
    }

    [Fact]
    public void Retain_ofANewPayload_replacesTheTopicsMessage_andAnEmptyOneClearsIt()
    {
        var store = new RetainedMessages();
        store.Retain(Published("farm/pump-1/cmd", "on"));
        store.Retain(Published("farm/pump-1/cmd", "off", MqttQualityOfServiceLevel.AtLeastOnce));

        var kept = Assert.Single(store.Match("farm/pump-1/cmd"));
        Assert.Equal("off", Encoding.UTF8.GetString(kept.Payload.ToArray()));
        Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, kept.QualityOfServiceLevel);
        Assert.True(kept.Retain);
        Assert.Equal(1, store.Count);

        store.Retain(Published("farm/pump-1/cmd", ""));

        Assert.Empty(store.Match("#"));
        Assert.Equal(0, store.Count);
        store.Retain(Published("farm/pump-1/cmd", "")); // clearing what is not there changes nothing
        Assert.Equal(0, store.Count);
    }

    [Fact]
    public void Retain_atItsLimit_refusesNewTopics_butStillReplacesAndClearsKeptOnes()
    {
        var store = new RetainedMessages(maxTopics: 2);
        Assert.True(store.Retain(Published("farm/pump-1/cmd", "on")));
        Assert.True(store.Retain(Published("farm/pump-2/cmd", "on")));

        Assert.False(store.Retain(Published("farm/pump-3/cmd", "on")));
        Assert.True(store.Retain(Published("farm/pump-1/cmd", "off")));

        Assert.Equal(["farm/pump-1/cmd", "farm/pump-2/cmd"], Topics(store, "#"));
        Assert.Equal("off", Encoding.UTF8.GetString(store.Match("farm/pump-1/cmd")[0].Payload.ToArray()));
        Assert.Equal(1, store.Refused);
        Assert.True(store.Retain(Published("farm/pump-2/cmd", ""))); // a cleared topic makes room
        Assert.True(store.Retain(Published("farm/pump-3/cmd", "on")));
        Assert.Equal(["farm/pump-1/cmd", "farm/pump-3/cmd"], Topics(store, "#"));
    }

    [Fact]
    public void Retain_clearingALeaf_keepsItsSiblingsAndParents()
    {
        var store = new RetainedMessages();
        store.Retain(Published("farm", "root"));
        store.Retain(Published("farm/pump-1", "1"));
        store.Retain(Published("farm/pump-1/cmd", "c1"));
        store.Retain(Published("farm/pump-2/cmd", "c2"));

        store.Retain(Published("farm/pump-1/cmd", ""));
        store.Retain(Published("farm/pump-2/cmd", ""));
        store.Retain(Published("farm/pump-2/cmd", "again"));

        Assert.Equal(["farm", "farm/pump-1", "farm/pump-2/cmd"], Topics(store, "#"));
    }

    [Fact]
    public void RetainForLiveCopy_returnsACopyWithoutTheRetainFlag_thatLeadsBackToTheMessageAsPublished()
    {
        var store = new RetainedMessages();
        var published = Published("farm/pump-1/cmd", "on", MqttQualityOfServiceLevel.AtLeastOnce);

        var live = store.RetainForLiveCopy(published);

        Assert.False(live.Retain);
        Assert.Equal(published.Topic, live.Topic);
        Assert.Equal("on", Encoding.UTF8.GetString(live.Payload.ToArray()));
        Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, live.QualityOfServiceLevel);
        Assert.True(store.TryGetPublished(live, out var original));
        Assert.Same(published, original);
        Assert.False(store.TryGetPublished(published, out _));
    }

    [Fact]
    public void Retain_keepsAPayloadOfItsOwn_whateverBecomesOfThePublishersBuffer()
    {
        var store = new RetainedMessages();
        var buffer = "on"u8.ToArray();
        var published = new MqttApplicationMessage { Topic = "farm/pump-1/cmd", Payload = new ReadOnlySequence<byte>(buffer), Retain = true };

        store.Retain(published);
        buffer[0] = (byte)'X'; // the receive loop reuses its buffer

        Assert.Equal("on", Encoding.UTF8.GetString(Assert.Single(store.Match("farm/#")).Payload.ToArray()));
    }

    [Fact]
    public async Task Match_duringConcurrentRetainsAndClears_alwaysFindsTheTopicsThatStay()
    {
        var store = new RetainedMessages();
        for (var i = 0; i < 100; i++)
        {
            store.Retain(Published($"stay/{i}/cmd", "x"));
        }
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        var churn = Task.Run(() =>
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                store.Retain(Published($"stay/{n % 100}/churn/{n % 7}", n % 2 == 0 ? "x" : ""));
            }
        });
        while (!stop.IsCancellationRequested)
        {
            Assert.Equal(100, store.Match("stay/+/cmd").Count);
        }
        await churn;
    }
}
