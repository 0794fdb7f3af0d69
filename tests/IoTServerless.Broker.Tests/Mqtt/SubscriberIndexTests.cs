using System.Collections;
using IoTServerless.Broker.Mqtt;

namespace IoTServerless.Broker.Tests.Mqtt;

public sealed class SubscriberIndexTests
{
    static readonly IDictionary Session = new Hashtable();

    static List<string> Match(SubscriberIndex index, string topic)
    {
        var candidates = new List<string>();
        index.Match(topic, candidates);
        return candidates;
    }

    [Theory]
    [ClassData(typeof(MqttMatchingCases))]
    public void Match_ofATopicAgainstOneFilter_followsMqttsMatchingRules(string filter, string topic, bool matches)
    {
        var index = new SubscriberIndex();
        index.Subscribed("c1", Session, filter);

        Assert.Equal(matches ? ["c1"] : [], Match(index, topic));
    }

    [Fact]
    public void Match_ofASessionWithSeveralMatchingFilters_namesItOnce()
    {
        var index = new SubscriberIndex();
        index.Subscribed("c1", Session, "farm/zone-1/pump-1");
        index.Subscribed("c1", Session, "farm/+/pump-1");
        index.Subscribed("c1", Session, "farm/#");
        index.Subscribed("c2", Session, "farm/#");
        index.Subscribed("c3", Session, "farm/zone-2/#");

        Assert.Equal(["c1", "c2"], Match(index, "farm/zone-1/pump-1").Order());
    }

    [Fact]
    public void Match_withManySessionsOnOverlappingFilters_namesEachOnce()
    {
        var index = new SubscriberIndex();
        for (var i = 0; i < 500; i++)
        {
            index.Subscribed($"c{i}", Session, "farm/broadcast");
            index.Subscribed($"c{i}", Session, "farm/#");
        }

        Assert.Equal(500, Match(index, "farm/broadcast").Distinct().Count());
        Assert.Equal(500, Match(index, "farm/broadcast").Count);
    }

    [Fact]
    public void Unsubscribed_fromOneOfTwoFilters_keepsTheOther()
    {
        var index = new SubscriberIndex();
        index.Subscribed("c1", Session, "a/+");
        index.Subscribed("c1", Session, "a/b");
        index.Subscribed("c2", Session, "a/+");

        index.Unsubscribed("c1", Session, "a/+");

        Assert.Equal(["c1", "c2"], Match(index, "a/b").Order());
        Assert.Equal(["c2"], Match(index, "a/c"));
        Assert.Equal(2, index.Count);
    }

    [Fact]
    public void Connected_withAnotherSession_dropsTheSubscriptionsOfTheOneItReplaced()
    {
        var index = new SubscriberIndex();
        var old = new Hashtable();
        index.Subscribed("c1", old, "a/b");
        index.Subscribed("c1", old, "a/#");

        index.Connected("c1", new Hashtable()); // a clean start: MQTTnet replaced the session

        Assert.Empty(Match(index, "a/b"));
        Assert.Equal(0, index.Count);
    }

    [Fact]
    public void Connected_withTheSameSession_keepsItsSubscriptions()
    {
        var index = new SubscriberIndex();
        index.Subscribed("c1", Session, "a/b");

        index.Connected("c1", Session); // a persistent session resumed

        Assert.Equal(["c1"], Match(index, "a/b"));
    }

    [Fact]
    public void SessionDeleted_ofAReplacedSession_leavesTheNewSessionsSubscriptions()
    {
        var index = new SubscriberIndex();
        var old = new Hashtable();
        var current = new Hashtable();
        index.Subscribed("c1", old, "a/b");
        index.Subscribed("c1", current, "a/c");

        index.SessionDeleted("c1", old);
        index.Unsubscribed("c1", old, "a/c");

        Assert.Empty(Match(index, "a/b"));
        Assert.Equal(["c1"], Match(index, "a/c"));
    }

    [Fact]
    public void SessionDeleted_removesEveryFilterOfThatSession()
    {
        var index = new SubscriberIndex();
        index.Subscribed("c1", Session, "a/b");
        index.Subscribed("c1", Session, "a/+");
        index.Subscribed("c1", Session, "#");
        index.Subscribed("c2", Session, "a/+");

        index.SessionDeleted("c1", Session);

        Assert.Equal(["c2"], Match(index, "a/b"));
        Assert.Empty(Match(index, "x"));
        Assert.Equal(1, index.Count);
    }

    [Fact]
    public async Task Match_whileSessionsSubscribeAndLeave_neverMissesOneThatStaysSubscribed()
    {
        var index = new SubscriberIndex();
        index.Subscribed("stays", Session, "farm/+/moisture");
        using var stop = new CancellationTokenSource();
        var churn = Task.Run(() =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var items = new Hashtable();
                index.Subscribed($"c{i % 50}", items, $"farm/zone-{i % 7}/#");
                index.Subscribed($"c{i % 50}", items, "farm/+/moisture");
                index.SessionDeleted($"c{i % 50}", items);
            }
        });
        var candidates = new List<string>();
        for (var i = 0; i < 20_000; i++)
        {
            index.Match("farm/zone-3/moisture", candidates);
            Assert.Contains("stays", candidates);
        }
        stop.Cancel();
        await churn;
    }
}
