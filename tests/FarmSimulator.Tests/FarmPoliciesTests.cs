using FarmSimulator.Provisioning;
using IoTServerless.Core.Security.Policies;

namespace FarmSimulator.Tests;

/// <summary>The farm's policy documents, evaluated by the platform's own policy engine.</summary>
public sealed class FarmPoliciesTests
{
    const string Farm = "farmT";
    const string Arn = "arn:aws:iot:eu-west-1:123456789012:";

    static CompiledPolicySet Compile(string document, string clientId, string thing)
        => CompiledPolicySet.Compile(
            [new NamedPolicyDocument("p", PolicyDocument.Parse(document))],
            new PolicyContext { ClientId = clientId, Thing = new PolicyThing(thing) });

    /// <summary>A pump certificate's policies: <see cref="FarmPolicies.Pump"/> and <see cref="FarmPolicies.PumpShadow"/>.</summary>
    static CompiledPolicySet CompilePump(string clientId = "pump-001", string thing = "pump-001")
        => CompiledPolicySet.Compile(
            [
                new NamedPolicyDocument(FarmPolicies.Pump, PolicyDocument.Parse(FarmPolicies.PumpDocument(Farm))),
                new NamedPolicyDocument(FarmPolicies.PumpShadow, PolicyDocument.Parse(FarmPolicies.PumpShadowDocument())),
            ],
            new PolicyContext { ClientId = clientId, Thing = new PolicyThing(thing) });

    static bool Allowed(CompiledPolicySet policy, string action, string resource)
        => policy.Authorize(action, Arn + resource).IsAllowed;

    [Fact]
    public void Documents_are_valid_and_within_the_size_limit()
    {
        var longFarm = new string('f', 100);
        foreach (var document in new[]
        {
            FarmPolicies.SensorDocument(longFarm), FarmPolicies.PumpDocument(longFarm), FarmPolicies.PumpShadowDocument(), FarmPolicies.MonitorDocument(longFarm),
        })
        {
            PolicyDocument.Parse(document);
            Assert.True(document.Count(c => !char.IsWhiteSpace(c)) <= PolicyDocument.MaxNonWhitespaceCharacters, $"{document.Length} characters");
        }
    }

    [Fact]
    public void PumpDocument_allows_the_pump_its_command_and_state_topics()
    {
        var pump = CompilePump();

        Assert.True(Allowed(pump, "iot:Connect", "client/pump-001"));
        Assert.True(Allowed(pump, "iot:Publish", "topic/farmT/pump/pump-001/state"));
        Assert.True(Allowed(pump, "iot:Subscribe", "topicfilter/farmT/pump/pump-001/cmd"));
        Assert.True(Allowed(pump, "iot:Receive", "topic/farmT/pump/pump-001/cmd"));
        Assert.False(Allowed(pump, "iot:Connect", "client/pump-002"));
        Assert.False(Allowed(pump, "iot:Publish", "topic/farmT/pump/pump-001/cmd"));
        Assert.False(Allowed(pump, "iot:Publish", "topic/farmT/pump/pump-002/state"));
    }

    [Theory]
    [InlineData("get")]
    [InlineData("update")]
    [InlineData("delete")]
    public void PumpShadowDocument_allows_publishing_requests_to_its_own_shadow(string operation)
    {
        var pump = CompilePump();

        Assert.True(Allowed(pump, "iot:Publish", $"topic/$aws/things/pump-001/shadow/{operation}"));
        Assert.False(Allowed(pump, "iot:Publish", $"topic/$aws/things/pump-002/shadow/{operation}"));
        Assert.False(Allowed(pump, "iot:Publish", $"topic/$aws/things/pump-001/shadow/name/x/{operation}"));
    }

    [Theory]
    [InlineData("get/accepted")]
    [InlineData("get/rejected")]
    [InlineData("update/accepted")]
    [InlineData("update/rejected")]
    [InlineData("update/delta")]
    [InlineData("delete/accepted")]
    [InlineData("delete/rejected")]
    public void PumpShadowDocument_allows_subscribing_to_and_receiving_its_own_shadow_responses(string response)
    {
        var pump = CompilePump();

        Assert.True(Allowed(pump, "iot:Subscribe", $"topicfilter/$aws/things/pump-001/shadow/{response}"));
        Assert.True(Allowed(pump, "iot:Receive", $"topic/$aws/things/pump-001/shadow/{response}"));
        Assert.False(Allowed(pump, "iot:Subscribe", $"topicfilter/$aws/things/pump-002/shadow/{response}"));
        Assert.False(Allowed(pump, "iot:Receive", $"topic/$aws/things/pump-002/shadow/{response}"));
        // Responses are only received, never published by the device.
        Assert.False(Allowed(pump, "iot:Publish", $"topic/$aws/things/pump-001/shadow/{response}"));
    }

    [Theory]
    [InlineData("iot:Subscribe", "topicfilter/$aws/things/pump-001/shadow/#")]
    [InlineData("iot:Subscribe", "topicfilter/$aws/things/pump-001/shadow/+/accepted")]
    [InlineData("iot:Subscribe", "topicfilter/$aws/things/pump-001/shadow/update/+")]
    [InlineData("iot:Subscribe", "topicfilter/$aws/things/+/shadow/update/delta")]
    [InlineData("iot:Subscribe", "topicfilter/$aws/things/pump-001/shadow/update/documents")]
    [InlineData("iot:Receive", "topic/$aws/things/pump-001/shadow/update/documents")]
    [InlineData("iot:Publish", "topic/$aws/things/pump-001/shadow/update/delta")]
    [InlineData("iot:Publish", "topic/$aws/things/pump-001/jobs/get")]
    [InlineData("iot:Receive", "topic/$aws/things/pump-001/shadow/name/x/update/delta")]
    [InlineData("iot:GetThingShadow", "thing/pump-001")]
    public void PumpShadowDocument_denies_anything_beyond_its_own_shadow_topics(string action, string resource)
    {
        var pump = CompilePump();

        Assert.False(Allowed(pump, action, resource));
    }

    [Fact]
    public void PumpShadowDocument_without_an_attached_thing_allows_no_shadow_topic()
    {
        // Thing variables resolve only when the client id names a thing attached to the certificate.
        var stranger = CompilePump("pump-001", "pump-002");

        Assert.False(Allowed(stranger, "iot:Publish", "topic/$aws/things/pump-001/shadow/update"));
        Assert.False(Allowed(stranger, "iot:Publish", "topic/$aws/things/pump-002/shadow/update"));
        Assert.False(Allowed(stranger, "iot:Receive", "topic/$aws/things/pump-001/shadow/update/delta"));
    }

    [Fact]
    public void PumpShadowDocument_bare_dollar_is_literal_and_matches_like_the_escape()
    {
        // "$aws" (no '{' after '$') is literal text: the same grants as the ${$} escape.
        var escaped = FarmPolicies.PumpShadowDocument().Replace("$aws/", "${$}aws/", StringComparison.Ordinal);
        Assert.NotEqual(FarmPolicies.PumpShadowDocument(), escaped);
        var plain = Compile(FarmPolicies.PumpShadowDocument(), "pump-001", "pump-001");
        var withEscape = Compile(escaped, "pump-001", "pump-001");

        foreach (var resource in new[] { "topic/$aws/things/pump-001/shadow/update", "topic/aws/things/pump-001/shadow/update", "topic/$$aws/things/pump-001/shadow/update" })
        {
            Assert.Equal(Allowed(withEscape, "iot:Publish", resource), Allowed(plain, "iot:Publish", resource));
        }
        Assert.True(Allowed(plain, "iot:Publish", "topic/$aws/things/pump-001/shadow/update"));
        Assert.False(Allowed(plain, "iot:Publish", "topic/aws/things/pump-001/shadow/update"));
    }

    [Fact]
    public void PumpShadowDocument_grants_no_connect_and_no_farm_topics()
    {
        var shadowOnly = Compile(FarmPolicies.PumpShadowDocument(), "pump-001", "pump-001");

        Assert.False(Allowed(shadowOnly, "iot:Connect", "client/pump-001"));
        Assert.False(Allowed(shadowOnly, "iot:Publish", "topic/farmT/pump/pump-001/state"));
        Assert.DoesNotContain("#", FarmPolicies.PumpShadowDocument(), StringComparison.Ordinal);
        Assert.DoesNotContain("+", FarmPolicies.PumpShadowDocument(), StringComparison.Ordinal);
        Assert.DoesNotContain("*", FarmPolicies.PumpShadowDocument().Replace("arn:aws:iot:*:*:", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public void SensorDocument_and_MonitorDocument_grant_no_shadow_topics()
    {
        var sensor = Compile(FarmPolicies.SensorDocument(Farm), "soil-001", "soil-001");
        var monitor = Compile(FarmPolicies.MonitorDocument(Farm), FarmPolicies.MonitorThing, FarmPolicies.MonitorThing);

        Assert.True(Allowed(sensor, "iot:Publish", "topic/farmT/sensor/soil-001/data"));
        Assert.False(Allowed(sensor, "iot:Publish", "topic/$aws/things/soil-001/shadow/update"));
        Assert.True(Allowed(monitor, "iot:Receive", "topic/farmT/pump/pump-001/state"));
        Assert.False(Allowed(monitor, "iot:Receive", "topic/$aws/things/pump-001/shadow/update/delta"));
    }
}
