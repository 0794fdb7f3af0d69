using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using IoTServerless.Core.Security.Policies;

namespace IoTServerless.Core.Tests.Security.Policies;

public sealed class PolicyEvaluatorTests
{
    const string Arn = "arn:aws:iot:us-east-1:123456789012:";

    static readonly PolicyContext Device = new()
    {
        ClientId = "sensor-1",
        Thing = new PolicyThing("sensor-1", "SoilSensor", new Dictionary<string, string> { ["farm"] = "farmA", ["row"] = "7" }),
        Certificate = new PolicyCertificate(
            new string('a', 64),
            "0A1B2C",
            new Dictionary<string, string> { ["CommonName"] = "cn-1", ["Organization"] = "Acme", ["OrganizationalUnit"] = "Fields", ["Country"] = "NZ", ["Locality"] = "Hamilton", ["State"] = "Waikato" },
            new Dictionary<string, string> { ["CommonName"] = "Farm CA", ["Organization"] = "Acme CA", ["Country"] = "NZ" }),
    };

    static string Statement(string effect, string action, string resource, string? condition = null, string actionKey = "Action", string resourceKey = "Resource")
        => $$"""{"Effect":"{{effect}}","{{actionKey}}":{{Json(action)}},"{{resourceKey}}":{{Json(resource)}}{{(condition is null ? "" : ",\"Condition\":" + condition)}}}""";

    static string Json(string value) => value.StartsWith('[') ? value : System.Text.Json.JsonSerializer.Serialize(value);

    static CompiledPolicySet Compile(PolicyContext context, params string[] statements)
        => CompiledPolicySet.Compile([new NamedPolicyDocument("p", PolicyDocument.Parse($$"""{"Version":"2012-10-17","Statement":[{{string.Join(",", statements)}}]}"""))], context);

    static bool Allowed(CompiledPolicySet set, PolicyAction action, string resource) => set.Authorize(action, resource).IsAllowed;

    [Theory]
    [InlineData("client/${iot:ClientId}", "client/sensor-1", "client/sensor-2")]
    [InlineData("topic/${iot:Connection.Thing.ThingName}/data", "topic/sensor-1/data", "topic/sensor-2/data")]
    [InlineData("topic/${iot:Connection.Thing.ThingTypeName}/x", "topic/SoilSensor/x", "topic/Pump/x")]
    [InlineData("topic/${iot:Connection.Thing.Attributes[farm]}/#", "topic/farmA/#", "topic/farmB/#")]
    [InlineData("topic/attached/${iot:Connection.Thing.IsAttached}", "topic/attached/true", "topic/attached/false")]
    [InlineData("topic/${iot:Certificate.Subject.CommonName}", "topic/cn-1", "topic/cn-2")]
    [InlineData("topic/${iot:Certificate.Subject.Organization}/${iot:Certificate.Subject.OrganizationalUnit}", "topic/Acme/Fields", "topic/Acme/x")]
    [InlineData("topic/${iot:Certificate.Subject.Country}-${iot:Certificate.Subject.Locality}-${iot:Certificate.Subject.State}", "topic/NZ-Hamilton-Waikato", "topic/NZ-Hamilton-x")]
    [InlineData("topic/${iot:Certificate.Issuer.CommonName}", "topic/Farm CA", "topic/Farm")]
    [InlineData("topic/${iot:Certificate.Issuer.Organization}/${iot:Certificate.Issuer.Country}", "topic/Acme CA/NZ", "topic/Acme/NZ")]
    [InlineData("topic/${iot:Certificate.SerialNumber}", "topic/0A1B2C", "topic/0A1B2")]
    [InlineData("topic/${iot:clientid}", "topic/sensor-1", "topic/Sensor-1")]
    public void Variables_resolveFromTheContext(string resource, string allowed, string denied)
    {
        var set = Compile(Device, Statement("Allow", "iot:Publish", Arn + resource));
        Assert.True(Allowed(set, PolicyAction.Publish, Arn + allowed));
        Assert.False(Allowed(set, PolicyAction.Publish, Arn + denied));
    }

    [Fact]
    public void VariableValues_areLiteral_evenWhenTheyHoldWildcards()
    {
        var set = Compile(Device with { ClientId = "a*", Thing = null }, Statement("Allow", "iot:Connect", Arn + "client/${iot:ClientId}"));
        Assert.True(Allowed(set, PolicyAction.Connect, "client/a*"));
        Assert.False(Allowed(set, PolicyAction.Connect, "client/abc"));
    }

    [Theory]
    [InlineData("topic/a${*}", "topic/a*", "topic/ab")]
    [InlineData("topic/a${?}", "topic/a?", "topic/ab")]
    [InlineData("topic/${$}aws", "topic/$aws", "topic/${$}aws")]
    [InlineData("topic/${$}{iot:ClientId}", "topic/${iot:ClientId}", "topic/sensor-1")]
    public void Escapes_areLiteralCharacters(string resource, string allowed, string denied)
    {
        var set = Compile(Device, Statement("Allow", "iot:Publish", Arn + resource));
        Assert.True(Allowed(set, PolicyAction.Publish, allowed));
        Assert.False(Allowed(set, PolicyAction.Publish, denied));
    }

    [Theory]
    [InlineData("topic/a/*", "topic/a/b/c/d", true)]
    [InlineData("topic/a/*", "topic/a/", true)]
    [InlineData("topic/a/*", "topic/a", false)]
    [InlineData("topic/*/data", "topic/x/y/data", true)]
    [InlineData("topic/a?c", "topic/abc", true)]
    [InlineData("topic/a?c", "topic/ac", false)]
    [InlineData("topic/a?c", "topic/a/c", true)]
    [InlineData("topic/a+/#", "topic/a+/#", true)]
    [InlineData("topic/a/+", "topic/a/b", false)]
    [InlineData("topic/a/#", "topic/a/b/c", false)]
    [InlineData("topicfilter/a/#", "topicfilter/a/#", true)]
    [InlineData("topicfilter/a/+/c", "topicfilter/a/+/c", true)]
    [InlineData("topicfilter/a/+/c", "topicfilter/a/b/c", false)]
    [InlineData("*", "anything/at/all", true)]
    public void Wildcards_starAndQuestionMark_andMqttWildcardsAreLiteral(string pattern, string resource, bool expected)
    {
        var set = Compile(Device, Statement("Allow", "iot:*", pattern == "*" ? "*" : Arn + pattern));
        Assert.Equal(expected, Allowed(set, PolicyAction.Subscribe, Arn + resource));
    }

    [Fact]
    public void RegionAndAccount_areNotCompared()
    {
        var set = Compile(Device, Statement("Allow", "iot:Publish", "arn:aws:iot:us-east-1:123456789012:topic/a"));
        Assert.True(Allowed(set, PolicyAction.Publish, "arn:aws:iot:local:000000000000:topic/a"));
        Assert.True(Allowed(set, PolicyAction.Publish, "topic/a"));
        Assert.False(Allowed(set, PolicyAction.Publish, "arn:aws:iot:local:000000000000:topic/b"));
    }

    [Fact]
    public void Actions_exactPatternsAndCaseInsensitive()
    {
        var set = Compile(Device, Statement("Allow", "[\"iot:get*\",\"iot:PUBLISH\"]", "*"));
        Assert.True(Allowed(set, PolicyAction.GetThingShadow, "thing/x"));
        Assert.True(Allowed(set, PolicyAction.GetPendingJobExecutions, "thing/x"));
        Assert.True(Allowed(set, PolicyAction.Publish, "topic/x"));
        Assert.False(Allowed(set, PolicyAction.Subscribe, "topicfilter/x"));
        Assert.False(Allowed(set, PolicyAction.UpdateThingShadow, "thing/x"));
        Assert.True(set.Authorize("iot:Publish", "topic/x").IsAllowed);
        Assert.False(set.Authorize("iot:Unknown", "topic/x").IsAllowed);
    }

    [Fact]
    public void NotAction_appliesToEveryOtherAction()
    {
        var set = Compile(Device, Statement("Allow", "iot:Publish", "*", actionKey: "NotAction"));
        Assert.False(Allowed(set, PolicyAction.Publish, "topic/a"));
        Assert.True(Allowed(set, PolicyAction.Subscribe, "topicfilter/a"));
        Assert.True(Allowed(set, PolicyAction.Connect, "client/x"));
    }

    [Fact]
    public void NotResource_appliesToEveryOtherResource()
    {
        var set = Compile(Device, Statement("Allow", "iot:Publish", Arn + "topic/secret/*", resourceKey: "NotResource"));
        Assert.True(Allowed(set, PolicyAction.Publish, "topic/open"));
        Assert.False(Allowed(set, PolicyAction.Publish, "topic/secret/x"));
    }

    [Fact]
    public void Deny_winsOverAnyAllow_andExplainsItself()
    {
        var set = CompiledPolicySet.Compile(
        [
            new NamedPolicyDocument("broad", PolicyDocument.Parse("""{"Version":"2012-10-17","Statement":[{"Sid":"all","Effect":"Allow","Action":"iot:*","Resource":"*"}]}""")),
            new NamedPolicyDocument("guard", PolicyDocument.Parse("""{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"},{"Sid":"noAdmin","Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/admin/*"}]}""")),
        ], Device);
        var denied = set.Authorize(PolicyAction.Publish, Arn + "topic/admin/reboot");
        Assert.Equal(new AuthorizationDecision(AuthorizationOutcome.ExplicitDeny, "guard", 1, "noAdmin"), denied);
        var allowed = set.Authorize(PolicyAction.Publish, Arn + "topic/data");
        Assert.Equal(new AuthorizationDecision(AuthorizationOutcome.Allowed, "broad", 0, "all"), allowed);

        var explanation = set.Explain(PolicyAction.Publish, Arn + "topic/admin/reboot");
        Assert.Equal(AuthorizationOutcome.ExplicitDeny, explanation.Decision.Outcome);
        Assert.Equal([new MatchedStatement("broad", 0, "all", PolicyEffect.Allow)], explanation.Allowing);
        Assert.Equal([new MatchedStatement("guard", 1, "noAdmin", PolicyEffect.Deny)], explanation.Denying);
        Assert.Equal(["broad", "guard"], set.PolicyNames);
    }

    [Fact]
    public void NothingMatching_isAnImplicitDeny()
    {
        Assert.Equal(AuthorizationDecision.ImplicitDeny, CompiledPolicySet.Empty.Authorize(PolicyAction.Connect, "client/x"));
        var set = Compile(Device, Statement("Allow", "iot:Publish", Arn + "topic/a"));
        Assert.Equal(AuthorizationOutcome.ImplicitDeny, set.Authorize(PolicyAction.Publish, "topic/b").Outcome);
    }

    [Fact]
    public void ThingVariables_whenTheClientIdIsNotTheAttachedThing_matchNothing()
    {
        var other = Device with { ClientId = "impostor" };
        var set = Compile(other,
            Statement("Allow", "iot:Publish", Arn + "topic/${iot:Connection.Thing.ThingName}/*"),
            Statement("Allow", "iot:Publish", Arn + "topic/${iot:Connection.Thing.ThingName}"),
            Statement("Allow", "iot:Subscribe", Arn + "topicfilter/x/${iot:Connection.Thing.IsAttached}"));
        Assert.False(Allowed(set, PolicyAction.Publish, "topic/sensor-1/data"));
        Assert.False(Allowed(set, PolicyAction.Publish, "topic//data"));
        Assert.False(Allowed(set, PolicyAction.Publish, "topic/"));
        Assert.True(Allowed(set, PolicyAction.Subscribe, "topicfilter/x/false"));
    }

    [Fact]
    public void UnresolvableVariables_failClosed()
    {
        var bare = new PolicyContext { ClientId = "c1" };
        var set = Compile(bare,
            Statement("Allow", "iot:Publish", $"[\"{Arn}topic/${{iot:Connection.Thing.Attributes[missing]}}\",\"{Arn}topic/ok\"]"),
            Statement("Allow", "iot:Subscribe", Arn + "topicfilter/${iot:Certificate.Subject.CommonName}", resourceKey: "NotResource"),
            Statement("Allow", "iot:Connect", "*"),
            Statement("Deny", "iot:Connect", Arn + "client/${iot:Certificate.SerialNumber}", resourceKey: "NotResource"),
            Statement("Allow", "iot:Receive", Arn + "topic/${aws:username}"));
        Assert.True(Allowed(set, PolicyAction.Publish, "topic/ok"));
        Assert.False(Allowed(set, PolicyAction.Publish, "topic/"));
        Assert.False(Allowed(set, PolicyAction.Subscribe, "topicfilter/anything"));
        Assert.Equal(AuthorizationOutcome.ExplicitDeny, set.Authorize(PolicyAction.Connect, "client/c1").Outcome);
        Assert.False(Allowed(set, PolicyAction.Receive, "topic/"));
    }

    [Theory]
    [InlineData("""{"StringEquals":{"iot:ClientId":"sensor-1"}}""", true)]
    [InlineData("""{"StringEquals":{"iot:ClientId":["x","sensor-1"]}}""", true)]
    [InlineData("""{"StringEquals":{"iot:ClientId":"Sensor-1"}}""", false)]
    [InlineData("""{"StringEqualsIgnoreCase":{"iot:ClientId":"Sensor-1"}}""", true)]
    [InlineData("""{"StringNotEquals":{"iot:ClientId":"sensor-1"}}""", false)]
    [InlineData("""{"StringNotEquals":{"iot:ClientId":["a","b"]}}""", true)]
    [InlineData("""{"StringLike":{"iot:ClientId":"sensor-*"}}""", true)]
    [InlineData("""{"StringLike":{"iot:ClientId":"sensor-?"}}""", true)]
    [InlineData("""{"StringLike":{"iot:ClientId":"pump-*"}}""", false)]
    [InlineData("""{"StringNotLike":{"iot:ClientId":"pump-*"}}""", true)]
    [InlineData("""{"StringEquals":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"}}""", true)]
    [InlineData("""{"StringEquals":{"iot:Connection.Thing.Attributes[farm]":"farmA"}}""", true)]
    [InlineData("""{"StringEquals":{"iot:Certificate.Subject.CommonName":"cn-1","iot:Certificate.Issuer.Country":"NZ"}}""", true)]
    [InlineData("""{"StringEquals":{"iot:Certificate.Subject.CommonName":"cn-1"},"StringLike":{"iot:ClientId":"pump*"}}""", false)]
    [InlineData("""{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}""", true)]
    [InlineData("""{"Bool":{"iot:Connection.Thing.IsAttached":false}}""", false)]
    [InlineData("""{"NumericGreaterThan":{"iot:Connection.Thing.Attributes[row]":5}}""", true)]
    [InlineData("""{"NumericLessThanEquals":{"iot:Connection.Thing.Attributes[row]":"6.5"}}""", false)]
    [InlineData("""{"StringEquals":{"iot:Connection.Thing.Attributes[none]":"x"}}""", false)]
    [InlineData("""{"StringEqualsIfExists":{"iot:Connection.Thing.Attributes[none]":"x"}}""", true)]
    [InlineData("""{"StringEqualsIfExists":{"iot:Connection.Thing.Attributes[farm]":"x"}}""", false)]
    [InlineData("""{"StringNotEquals":{"iot:Connection.Thing.Attributes[none]":"x"}}""", true)]
    [InlineData("""{"Null":{"iot:Connection.Thing.Attributes[none]":"true"}}""", true)]
    [InlineData("""{"Null":{"iot:Connection.Thing.Attributes[farm]":"true"}}""", false)]
    [InlineData("""{"ArnLike":{"iot:ClientId":"arn:*"}}""", false)]
    [InlineData("""{"ArnNotLike":{"iot:ClientId":"arn:aws:iot:*:*:client/x"}}""", true)]
    public void Conditions_decideWhetherAStatementApplies(string condition, bool applies)
    {
        var set = Compile(Device, Statement("Allow", "iot:Connect", "*", condition));
        Assert.Equal(applies, Allowed(set, PolicyAction.Connect, "client/sensor-1"));
    }

    [Fact]
    public void Conditions_arnOperators_compareEachPart()
    {
        var context = Device with { ClientId = "arn:aws:iot:us-east-1:123:client/x" };
        Assert.True(Allowed(Compile(context, Statement("Allow", "iot:Connect", "*", """{"ArnLike":{"iot:ClientId":"arn:aws:iot:*:*:client/*"}}""")), PolicyAction.Connect, "client/x"));
        Assert.True(Allowed(Compile(context, Statement("Allow", "iot:Connect", "*", """{"ArnEquals":{"iot:ClientId":"arn:aws:iot:us-east-1:123:client/x"}}""")), PolicyAction.Connect, "client/x"));
        Assert.False(Allowed(Compile(context, Statement("Allow", "iot:Connect", "*", """{"ArnLike":{"iot:ClientId":"arn:aws:iot:*:client/x"}}""")), PolicyAction.Connect, "client/x"));
    }

    [Fact]
    public void Conditions_withUnresolvableValues_failClosed()
    {
        var bare = new PolicyContext { ClientId = "c1" };
        const string Condition = """{"StringNotEquals":{"iot:ClientId":"${iot:Connection.Thing.ThingName}"}}""";
        var set = Compile(bare, Statement("Allow", "iot:Publish", "*", Condition), Statement("Allow", "iot:Connect", "*"), Statement("Deny", "iot:Connect", "*", Condition));
        Assert.False(Allowed(set, PolicyAction.Publish, "topic/a"));
        Assert.Equal(AuthorizationOutcome.ExplicitDeny, set.Authorize(PolicyAction.Connect, "client/c1").Outcome);
    }

    [Fact]
    public void Authorize_withTypeAndName_isTheSameAsTheJoinedResource()
    {
        var set = Compile(Device, Statement("Allow", "iot:Publish", Arn + "topic/${iot:ClientId}/*"));
        Assert.True(set.Authorize(PolicyAction.Publish, "topic", "sensor-1/data").IsAllowed);
        Assert.False(set.Authorize(PolicyAction.Publish, "topic", "sensor-2/data").IsAllowed);
        Assert.True(set.Authorize(PolicyAction.Publish, "topic", "sensor-1/" + new string('x', 2000)).IsAllowed);
    }

    [Fact]
    public void Authorize_doesNotAllocate()
    {
        var set = Compile(Device,
            Statement("Allow", "[\"iot:Publish\",\"iot:Receive\"]", $"[\"{Arn}topic/${{iot:ClientId}}/*\",\"{Arn}topic/farm/*/status\",\"{Arn}topic/exact\"]"),
            Statement("Deny", "iot:Publish", Arn + "topic/*/admin?"));
        const string Resource = "arn:aws:iot:local:000000000000:topic/farm/a/b/status";
        set.Authorize(PolicyAction.Publish, Resource);
        set.Authorize(PolicyAction.Publish, "topic", "sensor-1/x");
        var before = GC.GetAllocatedBytesForCurrentThread();
        var allowed = 0;
        for (var i = 0; i < 1000; i++)
        {
            allowed += set.Authorize(PolicyAction.Publish, Resource).IsAllowed ? 1 : 0;
            allowed += set.Authorize(PolicyAction.Publish, "topic", "sensor-1/x").IsAllowed ? 1 : 0;
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(2000, allowed);
    }

    [Fact]
    public void PolicyCertificate_fromX509_readsSubjectIssuerSerialAndId()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=dev-7, O=Acme, OU=Fields, C=NZ, L=Hamilton, S=Waikato", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(1));
        var fields = PolicyCertificate.FromX509(certificate);
        Assert.Equal("dev-7", fields.Subject["CommonName"]);
        Assert.Equal("Acme", fields.Subject["Organization"]);
        Assert.Equal("Fields", fields.Subject["OrganizationalUnit"]);
        Assert.Equal("NZ", fields.Subject["Country"]);
        Assert.Equal("Hamilton", fields.Subject["Locality"]);
        Assert.Equal("Waikato", fields.Subject["State"]);
        Assert.Equal("dev-7", fields.Issuer["CommonName"]);
        Assert.Equal(certificate.SerialNumber, fields.SerialNumber);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(certificate.RawData)), fields.CertificateId);
    }

    [Fact]
    public void PolicyCertificate_fromX509_ofTwoDevicesOfOneCa_givesEachItsSubjectAndBothTheCasFields()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caName = "CN=Farm CA " + Guid.NewGuid().ToString("N")[..8] + ", O=Acme Farms";
        var caRequest = new CertificateRequest(caName, caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(2));
        PolicyCertificate Device(string name, byte serial)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            using var certificate = new CertificateRequest($"CN={name}, O=Acme Farms", key, HashAlgorithmName.SHA256)
                .Create(ca, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(1), [serial]);
            return PolicyCertificate.FromX509(certificate);
        }

        var pump = Device("pump-1", 1);
        var sensor = Device("soil-1", 2);

        Assert.Equal("pump-1", pump.Subject["CommonName"]);
        Assert.Equal("soil-1", sensor.Subject["CommonName"]);
        Assert.Equal(caName[3..caName.IndexOf(',')], pump.Issuer["CommonName"]);
        Assert.Equal("Acme Farms", sensor.Issuer["Organization"]);
        Assert.Same(pump.Issuer, sensor.Issuer);
    }

    [Fact]
    public void ParseShared_ofTheSameStoredText_givesEveryConnectionOneDocument()
    {
        var json = $$"""{"Version":"2012-10-17","Statement":[{{Statement("Allow", "iot:Publish", Arn + "topic/shared-" + Guid.NewGuid().ToString("N"))}}]}""";

        Assert.Same(PolicyDocument.ParseShared(json), PolicyDocument.ParseShared(new string(json.AsSpan())));
    }

    [Fact]
    public void Compile_ofOneSharedDocumentForTwoConnections_decidesEachByItsOwnVariablesAndConditions()
    {
        // What depends on nothing about the connection is compiled once and shared; what does must not be.
        var document = PolicyDocument.ParseShared($$"""{"Version":"2012-10-17","Statement":[{{string.Join(",",
            Statement("Allow", "iot:Publish", Arn + "topic/fleet/*"),
            Statement("Allow", "iot:Publish", Arn + "topic/${iot:ClientId}/*"),
            Statement("Deny", "iot:Publish", Arn + "topic/fleet/secret", """{"StringEquals":{"iot:ClientId":"sensor-2"}}"""))}}]}""");
        var second = CompiledPolicySet.Compile([new NamedPolicyDocument("device", document)], Device with { ClientId = "sensor-2", Thing = null });
        var first = CompiledPolicySet.Compile([new NamedPolicyDocument("device", document)], Device);
        var underAnotherName = CompiledPolicySet.Compile([new NamedPolicyDocument("fleet", document)], Device);

        Assert.True(Allowed(first, PolicyAction.Publish, "topic/sensor-1/data"));
        Assert.False(Allowed(first, PolicyAction.Publish, "topic/sensor-2/data"));
        Assert.True(Allowed(first, PolicyAction.Publish, "topic/fleet/secret"));
        Assert.True(Allowed(second, PolicyAction.Publish, "topic/sensor-2/data"));
        Assert.False(Allowed(second, PolicyAction.Publish, "topic/sensor-1/data"));
        Assert.Equal(AuthorizationOutcome.ExplicitDeny, second.Authorize(PolicyAction.Publish, "topic/fleet/secret").Outcome);
        // The shared statement still names the policy each set was compiled from.
        Assert.Equal("device", first.Authorize(PolicyAction.Publish, "topic/fleet/a").PolicyName);
        Assert.Equal("fleet", underAnotherName.Authorize(PolicyAction.Publish, "topic/fleet/a").PolicyName);
    }

    [Fact]
    public void Authorize_withStatementsSharedAndPerConnection_reportsTheFirstMatchInDocumentOrder()
    {
        // Statements with a policy variable are compiled per connection, the others once for everyone:
        // the decision still names the first matching statement of the document, as AWS IoT's does.
        var set = Compile(Device,
            Statement("Deny", "iot:Publish", Arn + "topic/${iot:ClientId}/admin"),
            Statement("Deny", "iot:Publish", Arn + "topic/*/admin"),
            Statement("Allow", "iot:Publish", Arn + "topic/*"),
            Statement("Allow", "[\"iot:Publish\",\"iot:Receive\"]", Arn + "topic/${iot:ClientId}/*"));

        Assert.Equal(0, set.Authorize(PolicyAction.Publish, "topic/sensor-1/admin").StatementIndex);
        Assert.Equal(1, set.Authorize(PolicyAction.Publish, "topic/sensor-2/admin").StatementIndex);
        Assert.Equal(2, set.Authorize(PolicyAction.Publish, "topic/sensor-1/data").StatementIndex);
        Assert.Equal(3, set.Authorize(PolicyAction.Receive, "topic/sensor-1/data").StatementIndex);
        Assert.Equal(AuthorizationOutcome.ImplicitDeny, set.Authorize(PolicyAction.Receive, "topic/sensor-2/data").Outcome);
        var explanation = set.Explain(PolicyAction.Publish, "topic/sensor-1/admin");
        Assert.Equal([0, 1], explanation.Denying.Select(m => m.StatementIndex));
        Assert.Equal([2, 3], explanation.Allowing.Select(m => m.StatementIndex));
    }

    [Fact]
    public void Compile_ofPoliciesThatDependOnNothingAboutTheConnection_givesEveryConnectionOneSet()
    {
        var document = PolicyDocument.ParseShared($$"""{"Version":"2012-10-17","Statement":[{{Statement("Allow", "iot:Publish", Arn + "topic/fleet-" + Guid.NewGuid().ToString("N") + "/*")}}]}""");

        var first = CompiledPolicySet.Compile([new NamedPolicyDocument("fleet", document)], Device);
        var second = CompiledPolicySet.Compile([new NamedPolicyDocument("fleet", document)], Device with { ClientId = "sensor-2", Thing = null });

        Assert.Same(first, second);
    }

    [Fact]
    public void Compile_afterAPolicyIsReplacedUnderItsName_decidesByTheNewDocument()
    {
        var suffix = Guid.NewGuid().ToString("N");
        PolicyDocument Version(string topic) => PolicyDocument.ParseShared(
            $$"""{"Version":"2012-10-17","Statement":[{{Statement("Allow", "iot:Publish", Arn + "topic/" + topic + suffix)}}]}""");
        var before = CompiledPolicySet.Compile([new NamedPolicyDocument("device", Version("old"))], Device);
        var after = CompiledPolicySet.Compile([new NamedPolicyDocument("device", Version("new"))], Device);

        Assert.True(Allowed(before, PolicyAction.Publish, "topic/old" + suffix));
        Assert.False(Allowed(after, PolicyAction.Publish, "topic/old" + suffix));
        Assert.True(Allowed(after, PolicyAction.Publish, "topic/new" + suffix));
    }
}
