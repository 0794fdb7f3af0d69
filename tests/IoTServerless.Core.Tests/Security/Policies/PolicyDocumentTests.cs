using IoTServerless.Core.Security.Policies;

namespace IoTServerless.Core.Tests.Security.Policies;

public sealed class PolicyDocumentTests
{
    static PolicyValidationError SingleError(string json)
    {
        Assert.False(PolicyDocument.TryParse(json, out var document, out var errors));
        Assert.Null(document);
        return Assert.Single(errors);
    }

    static string Doc(string statements) => $$"""{"Version":"2012-10-17","Statement":{{statements}}}""";

    [Fact]
    public void Parse_validDocument_keepsStatementsAndForms()
    {
        var document = PolicyDocument.Parse(Doc("""
            [{"Sid":"a","Effect":"Allow","Action":["iot:Connect","iot:Get*"],"Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:ClientId}"},
             {"Effect":"Deny","NotAction":"iot:Publish","NotResource":["*"],"Condition":{"StringLikeIfExists":{"iot:ClientId":["a*","b"]},"Bool":{"iot:Connection.Thing.IsAttached":true}}}]
            """));
        Assert.Equal(2, document.Statements.Count);
        var first = document.Statements[0];
        Assert.Equal("a", first.Sid);
        Assert.Equal(PolicyEffect.Allow, first.Effect);
        Assert.False(first.NotAction);
        Assert.Equal(PolicyActions.Bit(PolicyAction.Connect) | PolicyActions.Bit(PolicyAction.GetThingShadow) | PolicyActions.Bit(PolicyAction.GetPendingJobExecutions), first.ActionMask);
        var second = document.Statements[1];
        Assert.True(second.NotAction);
        Assert.True(second.NotResource);
        Assert.Equal(2, second.Conditions.Count);
        Assert.Equal("StringLike", second.Conditions[0].Operator);
        Assert.True(second.Conditions[0].IfExists);
        Assert.Equal(2, second.Conditions[0].Values.Count);
    }

    [Fact]
    public void Parse_singleStatementObject_isAccepted()
    {
        var document = PolicyDocument.Parse(Doc("""{"Effect":"Allow","Action":"iot:*","Resource":"*"}"""));
        Assert.Equal(PolicyActions.AllMask, Assert.Single(document.Statements).ActionMask);
    }

    [Theory]
    [InlineData("{\"Version\":\"2012-10-17\",\n  \"Statement\": [,]}", "line 2, column")]
    [InlineData("{\"Version\":\"2012-10-17\"", "line 1, column")]
    [InlineData("not json", "line 1, column")]
    public void Parse_malformedJson_reportsLineAndColumn(string json, string where)
    {
        var error = SingleError(json);
        Assert.StartsWith(where, error.Path, StringComparison.Ordinal);
        Assert.Contains("Malformed JSON", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""[{"Action":"iot:Connect","Resource":"*"}]""", "Statement[0].Effect")]
    [InlineData("""[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"},{"Effect":"allow","Action":"iot:Connect","Resource":"*"}]""", "Statement[1].Effect")]
    [InlineData("""[{"Effect":"Allow","Resource":"*"}]""", "Statement[0].Action")]
    [InlineData("""[{"Effect":"Allow","Action":"iot:Connect","NotAction":"iot:Publish","Resource":"*"}]""", "Statement[0].NotAction")]
    [InlineData("""[{"Effect":"Allow","Action":"iot:Connect"}]""", "Statement[0].Resource")]
    [InlineData("""[{"Effect":"Allow","Action":"iot:Connect","Resource":"*","NotResource":"*"}]""", "Statement[0].NotResource")]
    [InlineData("""[{"Effect":"Allow","Action":["iot:Connect","iot:Fly"],"Resource":"*"}]""", "Statement[0].Action[1]")]
    [InlineData("""[{"Effect":"Allow","Action":"iot:Zz*","Resource":"*"}]""", "Statement[0].Action")]
    [InlineData("""[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]""", "Statement[0].Action")]
    [InlineData("""[{"Effect":"Allow","Action":[],"Resource":"*"}]""", "Statement[0].Action")]
    [InlineData("""[{"Effect":"Allow","Action":[42],"Resource":"*"}]""", "Statement[0].Action[0]")]
    [InlineData("""[{"Effect":"Allow","Action":"iot:Connect","Resource":["*","arn:aws:s3:::bucket"]}]""", "Statement[0].Resource[1]")]
    [InlineData("""[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:1:bucket/x"}]""", "Statement[0].Resource")]
    [InlineData("""[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:1:topic/"}]""", "Statement[0].Resource")]
    [InlineData("""[{"Effect":"Allow","Action":"iot:Connect","Resource":"topic/a"}]""", "Statement[0].Resource")]
    [InlineData("""[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:ClientId"}]""", "Statement[0].Resource")]
    [InlineData("""[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:Nope}"}]""", "Statement[0].Resource")]
    [InlineData("""[{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"StringSortOf":{"iot:ClientId":"x"}}}]""", "Statement[0].Condition.StringSortOf")]
    [InlineData("""[{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"NullIfExists":{"iot:ClientId":"true"}}}]""", "Statement[0].Condition.NullIfExists")]
    [InlineData("""[{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"yes"}}}]""", "Statement[0].Condition.Bool.iot:Connection.Thing.IsAttached")]
    [InlineData("""[{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":{"StringEquals":{"iot:ClientId":["a",{}]}}}]""", "Statement[0].Condition.StringEquals.iot:ClientId[1]")]
    [InlineData("""[{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Condition":"x"}]""", "Statement[0].Condition")]
    [InlineData("""[{"Effect":"Allow","Action":"iot:Connect","Resource":"*","Principal":"*"}]""", "Statement[0].Principal")]
    [InlineData("""[]""", "Statement")]
    [InlineData("""["x"]""", "Statement[0]")]
    public void Parse_invalidStatement_namesWhere(string statements, string path)
    {
        var error = SingleError(Doc(statements));
        Assert.Equal(path, error.Path);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Theory]
    [InlineData("""{"Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}""", "Version")]
    [InlineData("""{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}""", "Version")]
    [InlineData("""{"Version":"2012-10-17"}""", "Statement")]
    [InlineData("""{"Version":"2012-10-17","Statement":"x"}""", "Statement")]
    [InlineData("""[1]""", "$")]
    [InlineData("""{"Version":"2012-10-17","Version":"2012-10-17","Statement":[]}""", "line 1, column")]
    public void Parse_invalidRoot_namesWhere(string json, string path)
    {
        var error = SingleError(json);
        Assert.StartsWith(path, error.Path, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_severalProblems_reportsEach()
    {
        Assert.False(PolicyDocument.TryParse(Doc("""[{"Effect":"Maybe","Action":"iot:Fly","Resource":"nope"}]"""), out _, out var errors));
        Assert.Equal(["Statement[0].Effect", "Statement[0].Action", "Statement[0].Resource"], errors.Select(e => e.Path));
    }

    [Fact]
    public void Parse_documentOver2048NonWhitespaceCharacters_isRejected_butWhitespaceDoesNotCount()
    {
        var resources = string.Join(",", Enumerable.Range(0, 80).Select(i => $"\"arn:aws:iot:*:*:topic/t{i:D4}\""));
        var big = Doc($$"""[{"Effect":"Allow","Action":"iot:Publish","Resource":[{{resources}}]}]""");
        Assert.True(big.Count(c => !char.IsWhiteSpace(c)) > 2048);
        var error = SingleError(big);
        Assert.Equal("$", error.Path);
        Assert.Contains("2048", error.Message, StringComparison.Ordinal);

        var padded = Doc("""[{"Effect":"Allow","Action":"iot:Publish","Resource":"*"}]""").Replace(",", "," + new string(' ', 1000), StringComparison.Ordinal);
        Assert.True(PolicyDocument.TryParse(padded, out _, out _));
    }

    [Theory]
    [InlineData("iot:*")]
    [InlineData("*")]
    [InlineData("iot:publish")]
    [InlineData("iot:*Shadow")]
    [InlineData("iot:?onnect")]
    [InlineData("iot:ListNamedShadowsForThing")]
    [InlineData("iot:StartNextPendingJobExecution")]
    public void Parse_knownActionsAndMatchingPatterns_areAccepted(string action)
        => Assert.True(PolicyDocument.TryParse(Doc($$"""[{"Effect":"Allow","Action":"{{action}}","Resource":"*"}]"""), out _, out _));

    [Theory]
    [InlineData("arn:aws:iot:us-east-1:123456789012:topic/a/+/#")]
    [InlineData("arn:aws:iot:*:*:*")]
    [InlineData("arn:aws:iot:*:*:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*")]
    [InlineData("arn:aws:iot:eu-west-1:*:thing/${iot:Connection.Thing.Attributes[farm]}")]
    [InlineData("arn:aws:iot:::thinggroup/g")]
    [InlineData("arn:aws:iot:*:*:client/${aws:username}")]
    public void Parse_validResources_areAccepted(string resource)
        => Assert.True(PolicyDocument.TryParse(Doc($$"""[{"Effect":"Allow","Action":"iot:*","Resource":"{{resource}}"}]"""), out _, out var errors), string.Join("; ", errors));

    [Fact]
    public void Parse_throwsWithEveryError()
    {
        var ex = Assert.Throws<PolicyValidationException>(() => PolicyDocument.Parse("{}"));
        Assert.Equal(2, ex.Errors.Count);
        Assert.Contains("Statement", ex.Message, StringComparison.Ordinal);
    }
}
