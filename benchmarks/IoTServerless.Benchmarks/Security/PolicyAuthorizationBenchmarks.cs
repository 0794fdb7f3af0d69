using BenchmarkDotNet.Attributes;
using IoTServerless.Core.Security.Policies;

namespace IoTServerless.Benchmarks.Security;

/// <summary>
/// The broker's per-publish check: the farm's least-privilege device policy (with thing variables)
/// plus a group policy with a Deny, compiled for one connection, against the cheapest possible ACL
/// (a topic prefix comparison) as the baseline.
/// </summary>
[MemoryDiagnoser]
public class PolicyAuthorizationBenchmarks
{
    const string Device = """
        {"Version":"2012-10-17","Statement":[
          {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
          {"Effect":"Allow","Action":"iot:Publish","Resource":["arn:aws:iot:*:*:topic/farmA/sensor/${iot:Connection.Thing.ThingName}/data","arn:aws:iot:*:*:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*"]},
          {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:*:*:topicfilter/farmA/pump/${iot:Connection.Thing.ThingName}/cmd"},
          {"Effect":"Allow","Action":"iot:Receive","Resource":"arn:aws:iot:*:*:topic/farmA/pump/${iot:Connection.Thing.ThingName}/cmd"}
        ]}
        """;

    const string Group = """
        {"Version":"2012-10-17","Statement":[
          {"Effect":"Deny","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:*:*:topic/farmA/quarantine/*"},
          {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/farmA/alerts/${iot:Connection.Thing.Attributes[field]}"}
        ]}
        """;

    CompiledPolicySet _policies = null!;
    readonly string _ownTopic = "farmA/sensor/soil-042/data";
    readonly string _otherTopic = "farmA/sensor/soil-043/data";

    [GlobalSetup]
    public void Setup()
    {
        var context = new PolicyContext
        {
            ClientId = "soil-042",
            Thing = new PolicyThing("soil-042", "SoilSensor", new Dictionary<string, string> { ["field"] = "north", ["pump"] = "pump-007" }),
        };
        _policies = CompiledPolicySet.Compile(
            [new NamedPolicyDocument("FarmSensor", PolicyDocument.Parse(Device)), new NamedPolicyDocument("NorthField", PolicyDocument.Parse(Group))],
            context);
    }

    [Benchmark(Baseline = true, Description = "topic prefix ACL (baseline)")]
    public bool PrefixAcl() => _ownTopic.StartsWith("farmA/sensor/soil-042/", StringComparison.Ordinal);

    [Benchmark(Description = "iot:Publish allowed")]
    public bool PublishAllowed() => _policies.Authorize(PolicyAction.Publish, "topic", _ownTopic).IsAllowed;

    [Benchmark(Description = "iot:Publish denied (another device's topic)")]
    public bool PublishDenied() => _policies.Authorize(PolicyAction.Publish, "topic", _otherTopic).IsAllowed;

    [Benchmark(Description = "iot:Receive allowed")]
    public bool ReceiveAllowed() => _policies.Authorize(PolicyAction.Receive, "topic", "farmA/pump/soil-042/cmd").IsAllowed;
}
