using System.Text;
using IoTServerless.Core.Rules.Sql;
using static IoTServerless.Core.Tests.Rules.Sql.RuleSqlTestData;

namespace IoTServerless.Core.Tests.Rules.Sql;

/// <summary>The SELECT output: names, aliases, <c>*</c> merges, VALUE, and non-JSON payloads.</summary>
public sealed class RuleQuerySelectTests
{
    const string Nested = """{"state":{"reported":{"temp":20,"on":true},"desired":{"temp":22}},"device":"d1","tags":["a","b"]}""";

    [Fact]
    public void Select_fields_keepsTheirNamesInOrder() =>
        Assert.Equal("""{"ph":6.7,"temperature":21.5}""", Output("SELECT ph, temperature FROM '#'"));

    [Fact]
    public void Select_topLevelFields_areCopiedAsWritten() =>
        Assert.Equal("""{"a":21.50,"b":"\u00e9\"","c":{ "x" : [1, 2] },"d":1e3,"e":43}""",
            Output("SELECT a, b, c, d, a * 2 AS e FROM '#'", """{"a":21.50,"b":"\u00e9\"","c":{ "x" : [1, 2] },"d":1e3}"""));

    [Fact]
    public void Select_fieldReadFromTheParsedPayload_isWrittenFromItsValue() =>
        Assert.Equal("""{"a":1.5,"x":1}""", Output("SELECT a, get(*, 'b') AS x FROM '#' WHERE get(*, 'a') > 1", """{"a":1.50,"b":1}"""));

    [Fact]
    public void Select_alias_renames() =>
        Assert.Equal("""{"t":21.5,"H":30.2}""", Output("SELECT temperature AS t, humidity as H FROM '#'"));

    [Fact]
    public void Select_nestedField_defaultNameIsTheLastSegment() =>
        Assert.Equal("""{"temp":20,"on":true}""", Output("SELECT state.reported.temp, state.reported.on FROM '#'", Nested));

    [Fact]
    public void Select_nestedObject_isWrittenWhole() =>
        Assert.Equal("""{"reported":{"temp":20,"on":true}}""", Output("SELECT state.reported FROM '#'", Nested));

    [Fact]
    public void Select_functionCallsAndOtherExpressions_defaultNames() =>
        Assert.Equal("""{"upper":"D1","_2":2,"topic":"farmA/sensor/sensor-0042/data","_4":"a"}""",
            Output("SELECT upper(device), 1 + 1, topic(), tags[0] FROM '#'", Nested));

    [Fact]
    public void Select_quotedFieldName_readsItAndKeepsTheName() =>
        Assert.Equal("""{"my-field":1,"b c":2}""", Output("SELECT `my-field`, x.`b c` FROM '#'", """{"my-field":1,"x":{"b c":2}}"""));

    [Fact]
    public void Select_undefinedItems_areLeftOut() =>
        Assert.Equal("""{"device":"d1"}""", Output("SELECT missing, device, state.nothing.deeper AS x, topic(9) AS t, 'a' * 2 AS bad FROM '#'", Nested));

    [Fact]
    public void Select_onlyUndefinedItems_isAnEmptyObject() =>
        Assert.Equal("{}", Output("SELECT missing FROM '#'"));

    [Fact]
    public void Select_nullField_isWrittenAsNull() =>
        Assert.Equal("""{"a":null}""", Output("SELECT a FROM '#'", """{"a":null}"""));

    [Fact]
    public void Select_sameNameTwice_laterWins() =>
        Assert.Equal("""{"x":30.2}""", Output("SELECT temperature AS x, humidity AS x FROM '#'"));

    [Fact]
    public void Select_starAlone_isThePayloadAsItCame()
    {
        var message = Message("""{ "a" : 1 }""");

        var evaluation = RuleQuery.Compile("SELECT * FROM '#'").Evaluate(message);

        Assert.Equal("""{ "a" : 1 }""", Encoding.UTF8.GetString(evaluation.Output.Span));
    }

    [Fact]
    public void Select_starWithField_addsTheField() =>
        JsonEqual("""{"color":"red","temperature":50,"speed":15}""", Output("SELECT *, 15 AS speed FROM '#'", """{"color":"red","temperature":50}"""));

    [Fact]
    public void Select_starWithSameName_replacesThePayloadValue() =>
        JsonEqual("""{"a":1,"b":"new"}""", Output("SELECT *, 'new' AS b FROM '#'", """{"a":1,"b":"old"}"""));

    [Fact]
    public void Select_starWithUndefinedSameName_keepsThePayloadValue() =>
        JsonEqual("""{"a":1,"b":"old"}""", Output("SELECT *, missing AS b FROM '#'", """{"a":1,"b":"old"}"""));

    [Fact]
    public void Select_starKeepsNestedValuesAndEscapedNames() =>
        JsonEqual("""{"a\"q":{"x":[1,{"y":null}]},"é":"ü","n":1}""", Output("SELECT *, 1 AS n FROM '#'", """{"a\"q":{"x":[1,{"y":null}]},"\u00e9":"ü"}"""));

    [Fact]
    public void Select_fieldThenStar_payloadWinsForTheSameName() =>
        JsonEqual("""{"humidity":30.2,"x":1}""", Output("SELECT 1 AS humidity, 1 AS x, * FROM '#'", """{"humidity":30.2}"""));

    [Fact]
    public void Select_nestedStar_mergesTheObjectsFields() =>
        JsonEqual("""{"temp":20,"on":true,"device":"d1"}""", Output("SELECT state.reported.*, device FROM '#'", Nested));

    [Fact]
    public void Select_twoNestedStars_laterOverridesEarlier() =>
        JsonEqual("""{"temp":22,"on":true}""", Output("SELECT state.reported.*, state.desired.* FROM '#'", Nested));

    [Fact]
    public void Select_nestedStarOfNonObject_addsNothing() =>
        Assert.Equal("""{"device":"d1"}""", Output("SELECT device.*, device FROM '#'", Nested));

    [Fact]
    public void Select_value_isTheBareValue()
    {
        Assert.Equal("\"d1\"", Output("SELECT VALUE device FROM '#'", Nested));
        Assert.Equal("""["a","b"]""", Output("SELECT VALUE tags FROM '#'", Nested));
        Assert.Equal("""[1,"x"]""", Output("SELECT VALUE [1, 'x'] FROM '#'", Nested));
    }

    [Fact]
    public void Select_valueAsAFieldName_isAField() =>
        Assert.Equal("""{"value":5,"v":6}""", Output("SELECT value, value + 1 AS v FROM '#'", """{"value":5}"""));

    [Fact]
    public void Select_objectLiteral_buildsNestedOutput() =>
        Assert.Equal("""{"lat_long":{"latitude":47.606,"longitude":-122.332}}""",
            Output("SELECT {'latitude': get(lat_long, 0), 'longitude': get(lat_long, 1)} AS lat_long FROM '#'", """{"lat_long":[47.606,-122.332]}"""));

    [Fact]
    public void Select_topicOutOfRange_isLeftOut() =>
        Assert.Equal("""{"first":"farmA","last":"data"}""",
            Output("SELECT topic(1) AS first, topic(4) AS last, topic(5) AS past, topic(0) AS zero, topic(-1) AS negative FROM '#'"));

    [Fact]
    public void Select_keywordsAreCaseInsensitiveButFieldsAreNot() =>
        Assert.Equal("""{"t":21.5}""", Output("select temperature As t, Temperature AS u from '#' where humidity < 35"));

    [Fact]
    public void Select_starOverNonJsonPayload_isTheRawPayload()
    {
        byte[] payload = [0x00, 0xff, 0x10, 0x7b];

        var evaluation = RuleQuery.Compile("SELECT * FROM '#' WHERE timestamp() > 0").Evaluate(BinaryMessage(payload));

        Assert.True(evaluation.Matched);
        Assert.Equal(payload, evaluation.Output.ToArray());
    }

    [Fact]
    public void Select_encodeStarOverBinaryPayload_isBase64()
    {
        byte[] payload = [0x00, 0xff, 0x10, 0x7b];

        var evaluation = RuleQuery.Compile("SELECT encode(*, 'base64') AS data, timestamp() AS ts FROM '#'").Evaluate(BinaryMessage(payload));

        Assert.Equal($$"""{"data":"AP8Qew==","ts":{{Timestamp}}}""", Encoding.UTF8.GetString(evaluation.Output.Span));
    }

    [Fact]
    public void Select_fieldsOverNonJsonPayload_areUndefined()
    {
        var message = BinaryMessage(Encoding.UTF8.GetBytes("temperature=21"));

        Assert.Equal("""{"t":"farmA/sensor/sensor-0042/data"}""", Output("SELECT temperature, topic() AS t FROM '#'", message));
        Assert.Equal("""{"t":"farmA/sensor/sensor-0042/data"}""", Output("SELECT *, topic() AS t FROM '#'", message));
        Assert.False(RuleQuery.Compile("SELECT * FROM '#' WHERE temperature > 0").Evaluate(message).Matched);
    }

    [Fact]
    public void Select_truncatedJson_fieldsAreUndefined()
    {
        var message = Message("""{"temperature":21,"humidity":""");

        Assert.Equal("{}", Output("SELECT humidity FROM '#'", message));
        Assert.False(RuleQuery.Compile("SELECT * FROM '#' WHERE humidity < 35").Evaluate(message).Matched);
    }

    [Fact]
    public void Select_fieldsOfAJsonArrayPayload_areUndefinedButStarIsThePayload()
    {
        Assert.Equal("{}", Output("SELECT a FROM '#'", "[1,2]"));
        Assert.Equal("[1,2]", Output("SELECT * FROM '#'", "[1,2]"));
    }

    [Fact]
    public void Select_emptyPayload_fieldsAreUndefined() => Assert.Equal("{}", Output("SELECT a FROM '#'", Message("")));

    [Fact]
    public void Select_duplicatePayloadKey_doesNotThrow() => Assert.StartsWith("{\"a\":", Output("SELECT a FROM '#'", """{"a":1,"a":2}"""), StringComparison.Ordinal);

    [Fact]
    public void Evaluate_whereFalse_hasNoOutput()
    {
        var evaluation = RuleQuery.Compile("SELECT * FROM '#' WHERE humidity > 90").Evaluate(Message());

        Assert.False(evaluation.Matched);
        Assert.True(evaluation.Output.IsEmpty);
    }

    [Fact]
    public void Evaluate_whereUsesFieldsTheSelectAlsoReads_bothSeeThem() =>
        Assert.Equal("""{"humidity":30.2,"t":21.5}""", Output("SELECT humidity, temperature AS t FROM '#' WHERE humidity < 35 AND temperature > 0"));

    [Fact]
    public void Matches_withoutWhere_isTrue() => Assert.True(RuleQuery.Compile("SELECT a FROM '#'").Matches(Message("nope")));
}
