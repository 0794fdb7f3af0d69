using IoTServerless.Core.Shadows;
using IoTServerless.Core.Topics;

namespace IoTServerless.Core.Tests.Shadows;

public sealed class ShadowTopicTests
{
    [Theory]
    [InlineData("$aws/things/pump-1/shadow/get", "pump-1", null, ShadowOperation.Get)]
    [InlineData("$aws/things/pump-1/shadow/update", "pump-1", null, ShadowOperation.Update)]
    [InlineData("$aws/things/pump-1/shadow/delete", "pump-1", null, ShadowOperation.Delete)]
    [InlineData("$aws/things/a:b_c-D9/shadow/name/config/get", "a:b_c-D9", "config", ShadowOperation.Get)]
    [InlineData("$aws/things/t/shadow/name/$package/update", "t", "$package", ShadowOperation.Update)]
    [InlineData("$aws/things/t/shadow/name/name/delete", "t", "name", ShadowOperation.Delete)]
    [InlineData("$aws/things/t/shadow/name/shadow/get", "t", "shadow", ShadowOperation.Get)]
    public void TryParse_requestTopic_givesThingShadowAndOperation(string topic, string thing, string? shadow, ShadowOperation operation)
    {
        Assert.True(ShadowTopic.TryParse(topic, out var parsed));

        Assert.Equal(new ShadowTopic(thing, shadow, operation), parsed);
        Assert.Equal(topic, parsed.Request());
    }

    [Theory]
    [InlineData("$aws/things/t/shadow/update/accepted")]
    [InlineData("$aws/things/t/shadow/update/rejected")]
    [InlineData("$aws/things/t/shadow/update/delta")]
    [InlineData("$aws/things/t/shadow/update/documents")]
    [InlineData("$aws/things/t/shadow/get/accepted")]
    [InlineData("$aws/things/t/shadow/delete/rejected")]
    [InlineData("$aws/things/t/shadow/name/s/update/accepted")]
    [InlineData("$aws/things/t/shadow/name/s/get/rejected")]
    [InlineData("$aws/things/t/shadow")]
    [InlineData("$aws/things/t/shadow/")]
    [InlineData("$aws/things/t/shadow/list")]
    [InlineData("$aws/things/t/shadow/GET")]
    [InlineData("$aws/things/t/shadow/name")]
    [InlineData("$aws/things/t/shadow/name/s")]
    [InlineData("$aws/things/t/shadow/name/s/list")]
    [InlineData("$aws/things/t/shadow/named/s/get")]
    [InlineData("$aws/things/t/shadows/get")]
    [InlineData("$aws/things/t/jobs/get")]
    [InlineData("$aws/things//shadow/get")]
    [InlineData("$aws/things/t/shadow/name//get")]
    [InlineData("$aws/things/bad thing/shadow/get")]
    [InlineData("$aws/things/bad.thing/shadow/get")]
    [InlineData("$aws/things/t/shadow/name/bad.name/get")]
    [InlineData("$aws/things/t/shadow/name/bad name/get")]
    [InlineData("$AWS/things/t/shadow/get")]
    [InlineData("aws/things/t/shadow/get")]
    [InlineData("things/t/shadow/get")]
    [InlineData("")]
    [InlineData(null)]
    public void TryParse_otherTopic_isFalse(string? topic)
        => Assert.False(ShadowTopic.TryParse(topic, out _));

    [Fact]
    public void TryParse_thingNameLimits_followTheContract()
    {
        Assert.True(ShadowTopic.TryParse($"$aws/things/{new string('a', 128)}/shadow/get", out _));
        Assert.False(ShadowTopic.TryParse($"$aws/things/{new string('a', 129)}/shadow/get", out _));
    }

    [Fact]
    public void TryParse_shadowNameLimits_followTheContract()
    {
        Assert.True(ShadowTopic.TryParse($"$aws/things/t/shadow/name/{new string('s', 64)}/get", out _));
        Assert.False(ShadowTopic.TryParse($"$aws/things/t/shadow/name/{new string('s', 65)}/get", out _));
    }

    [Fact]
    public void ResponseTopics_classicShadow_areUnderTheShadowPrefix()
    {
        var topic = new ShadowTopic("pump-1", null, ShadowOperation.Update);

        Assert.Equal("$aws/things/pump-1/shadow/update/accepted", topic.Accepted());
        Assert.Equal("$aws/things/pump-1/shadow/update/rejected", topic.Rejected());
        Assert.Equal("$aws/things/pump-1/shadow/update/delta", ShadowTopic.UpdateDelta("pump-1", null));
        Assert.Equal("$aws/things/pump-1/shadow/update/documents", ShadowTopic.UpdateDocuments("pump-1", null));
    }

    [Fact]
    public void ResponseTopics_namedShadow_areUnderTheNamedPrefix()
    {
        var topic = new ShadowTopic("pump-1", "config", ShadowOperation.Get);

        Assert.Equal("$aws/things/pump-1/shadow/name/config/get/accepted", topic.Accepted());
        Assert.Equal("$aws/things/pump-1/shadow/name/config/get/rejected", topic.Rejected());
        Assert.Equal("$aws/things/pump-1/shadow/name/config/update/delta", ShadowTopic.UpdateDelta("pump-1", "config"));
        Assert.Equal("$aws/things/pump-1/shadow/name/config/update/documents", ShadowTopic.UpdateDocuments("pump-1", "config"));
        Assert.Equal("$aws/things/pump-1/shadow/name/config/delete", ShadowTopic.RequestTopic("pump-1", "config", ShadowOperation.Delete));
    }

    [Theory]
    [InlineData("$aws/things/t/shadow/get")]
    [InlineData("$aws/things/t/shadow/name/s/update")]
    [InlineData("$aws/things/t/shadow/name/s/delete")]
    public void RequestFilter_isAValidFilterMatchingRequestTopics(string topic)
    {
        Assert.True(MqttTopic.IsValidFilter(ShadowTopic.RequestFilter));
        Assert.True(MqttTopic.Matches(ShadowTopic.RequestFilter, topic));
    }

    [Theory]
    [InlineData("$package", true)]
    [InlineData("a:b_c-1", true)]
    [InlineData("", false)]
    [InlineData("a/b", false)]
    [InlineData("a.b", false)]
    [InlineData("a b", false)]
    [InlineData("é", false)]
    [InlineData(null, false)]
    public void ShadowName_IsValid_followsThePattern(string? name, bool valid)
        => Assert.Equal(valid, ShadowName.IsValid(name));
}
