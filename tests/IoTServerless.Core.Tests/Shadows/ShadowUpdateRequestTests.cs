using System.Text;
using IoTServerless.Core.Shadows;
using static IoTServerless.Core.Tests.Shadows.ShadowJsonAssert;

namespace IoTServerless.Core.Tests.Shadows;

/// <summary>Validation of update requests, with AWS IoT's codes and messages.</summary>
public sealed class ShadowUpdateRequestTests
{
    [Fact]
    public void TryParse_validRequest_readsStateVersionAndClientToken()
    {
        var request = Request("""{"state":{"desired":{"color":"red"},"reported":{"color":"green"}},"version":7,"clientToken":"t-1"}""");

        Equal("""{"desired":{"color":"red"},"reported":{"color":"green"}}""", request.State);
        Assert.Equal(7, request.Version);
        Assert.Equal("t-1", request.ClientToken);
        Assert.True(request.WritesDesired);
    }

    [Fact]
    public void TryParse_extraTopLevelFields_areIgnored()
    {
        var request = Request("""{"state":{"reported":{"a":1}},"thingName":"x","shadowName":"y","timestamp":5,"metadata":{}}""");

        Equal("""{"reported":{"a":1}}""", request.State);
        Assert.Null(request.Version);
        Assert.Null(request.ClientToken);
        Assert.False(request.WritesDesired);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("{")]
    [InlineData("not json")]
    [InlineData("""{"state":{"desired":{"a":1}}""")]
    [InlineData("""{"state":{"desired":{"a":1}}},""")]
    [InlineData("""{"state":{"desired":{"a":tru}}}""")]
    [InlineData("""{"state":{"desired":{"a":1,"a":2}}}""")]
    [InlineData("""{'state':{}}""")]
    public void TryParse_invalidJson_is400PayloadContainsInvalidJson(string payload)
    {
        var error = Refusal(payload);

        Assert.Equal(new ShadowError(400, "Payload contains invalid json"), error);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("""[{"state":{}}]""")]
    [InlineData("5")]
    [InlineData("\"state\"")]
    [InlineData("null")]
    public void TryParse_notAnObject_is400PayloadContainsInvalidJson(string payload)
        => Assert.Equal(new ShadowError(400, "Payload contains invalid json"), Refusal(payload));

    [Theory]
    [InlineData("""{"clientToken":"c-1"}""")]
    [InlineData("""{"desired":{"a":1},"clientToken":"c-1"}""")]
    [InlineData("""{"State":{"desired":{}},"clientToken":"c-1"}""")]
    public void TryParse_missingState_is400MissingRequiredNodeAndEchoesClientToken(string payload)
        => Assert.Equal(new ShadowError(400, "Missing required node: state", "c-1"), Refusal(payload));

    [Theory]
    [InlineData("5")]
    [InlineData("\"x\"")]
    [InlineData("true")]
    [InlineData("[]")]
    [InlineData("""[{"desired":{}}]""")]
    public void TryParse_stateNotAnObject_is400(string state)
        => Assert.Equal(new ShadowError(400, "State node must be an object", "c"), Refusal("""{"state":""" + state + ""","clientToken":"c"}"""));

    [Theory]
    [InlineData("1")]
    [InlineData("\"on\"")]
    [InlineData("false")]
    [InlineData("[1]")]
    public void TryParse_desiredNotAnObject_is400(string desired)
        => Assert.Equal(new ShadowError(400, "Desired node must be an object"), Refusal("""{"state":{"desired":""" + desired + "}}"));

    [Theory]
    [InlineData("1")]
    [InlineData("\"on\"")]
    [InlineData("true")]
    [InlineData("[]")]
    public void TryParse_reportedNotAnObject_is400(string reported)
        => Assert.Equal(new ShadowError(400, "Reported node must be an object"), Refusal("""{"state":{"reported":""" + reported + "}}"));

    [Theory]
    [InlineData("delta")]
    [InlineData("metadata")]
    [InlineData("Desired")]
    public void TryParse_otherNodeInState_is400InvalidNode(string node)
        => Assert.Equal(new ShadowError(400, $"State contains an invalid node: '{node}'"), Refusal("{\"state\":{\"reported\":{\"a\":1},\"" + node + "\":{}}}"));

    [Fact]
    public void TryParse_nullDesiredAndReported_areAllowed()
    {
        var request = Request("""{"state":{"desired":null,"reported":null}}""");

        Equal("""{"desired":null,"reported":null}""", request.State);
        Assert.False(request.WritesDesired);
    }

    [Fact]
    public void TryParse_nullState_isAllowedAndClearsState()
    {
        var request = Request("""{"state":null,"clientToken":"c"}""");

        Assert.Null(request.State);
        Assert.Equal("c", request.ClientToken);
    }

    [Fact]
    public void TryParse_emptyState_isAllowed()
        => Equal("{}", Request("""{"state":{}}""").State);

    [Theory]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("3.0")]
    [InlineData("1e2")]
    [InlineData("\"1\"")]
    [InlineData("true")]
    [InlineData("{}")]
    [InlineData("[1]")]
    [InlineData("9223372036854775808")]
    public void TryParse_versionNotANonNegativeInteger_is400InvalidVersion(string version)
        => Assert.Equal(new ShadowError(400, "Invalid version", "c"), Refusal("""{"state":{"reported":{"a":1}},"version":""" + version + ""","clientToken":"c"}"""));

    [Theory]
    [InlineData("0", 0L)]
    [InlineData("42", 42L)]
    [InlineData("9223372036854775807", long.MaxValue)]
    public void TryParse_nonNegativeIntegerVersion_isRead(string version, long expected)
        => Assert.Equal(expected, Request("""{"state":{},"version":""" + version + "}").Version);

    [Fact]
    public void TryParse_nullVersion_isNoVersion()
        => Assert.Null(Request("""{"state":{},"version":null}""").Version);

    [Theory]
    [InlineData("5")]
    [InlineData("true")]
    [InlineData("{}")]
    [InlineData("[\"t\"]")]
    public void TryParse_clientTokenNotAString_is400WithoutEcho(string token)
        => Assert.Equal(new ShadowError(400, "Invalid clientToken"), Refusal("""{"state":{},"clientToken":""" + token + "}"));

    [Fact]
    public void TryParse_clientTokenOf64Bytes_isAccepted()
    {
        var token = new string('t', 64);

        Assert.Equal(token, Request("{\"state\":{},\"clientToken\":\"" + token + "\"}").ClientToken);
    }

    [Theory]
    [InlineData(65, "t")]
    [InlineData(33, "é")] // 33 characters, 66 UTF-8 bytes
    public void TryParse_clientTokenOver64Bytes_is400AndEchoed(int count, string unit)
    {
        var token = string.Concat(Enumerable.Repeat(unit, count));

        Assert.Equal(new ShadowError(400, "Invalid clientToken", token), Refusal("{\"state\":{},\"clientToken\":\"" + token + "\"}"));
    }

    [Theory]
    [InlineData("""{"a":1}""")]
    [InlineData("""{"a":{"b":{"c":{"d":1}}}}""")]
    [InlineData("""{"a":{"b":{"c":{"d":{"e":1}}}}}""")]
    [InlineData("""{"a":{"b":{"c":{"d":[1,2]}}}}""")]
    [InlineData("""{"a":[[[[1]]]]}""")]
    public void TryParse_nestingOfSixLevels_isAccepted(string desired)
        => Request("""{"state":{"desired":""" + desired + "}}");

    [Theory]
    [InlineData("""{"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}""")]
    [InlineData("""{"a":{"b":{"c":{"d":{"e":{}}}}}}""")]
    [InlineData("""{"a":{"b":{"c":{"d":[[1]]}}}}""")]
    [InlineData("""{"a":[[[[[1]]]]]}""")]
    [InlineData("""{"x":1,"a":{"b":{"c":{"d":{"e":{"f":null}}}}}}""")]
    public void TryParse_nestingOverSixLevels_is400(string desired)
        => Assert.Equal(new ShadowError(400, "JSON contains too many levels of nesting; maximum is 6", "c"), Refusal("""{"state":{"reported":""" + desired + """},"clientToken":"c"}"""));

    [Fact]
    public void TryParse_deepNestingOutsideState_isIgnored()
        => Request("""{"state":{},"extra":{"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}}}""");

    [Theory]
    [InlineData("""[null]""")]
    [InlineData("""[1,null]""")]
    [InlineData("""[[null]]""")]
    [InlineData("""[{"a":null}]""")]
    public void TryParse_nullInsideArray_is400(string array)
        => Assert.Equal(new ShadowError(400, "Arrays can't have null values"), Refusal("""{"state":{"desired":{"colors":""" + array + "}}}"));

    [Fact]
    public void TryParse_payloadOverTheLimit_is413AndEchoesClientToken()
    {
        var payload = "{\"state\":{\"reported\":{\"blob\":\"" + new string('x', 200) + "\"}},\"clientToken\":\"big\"}";

        Assert.Equal(new ShadowError(413, "The payload exceeds the maximum size allowed", "big"), Refusal(payload, maxRequestBytes: 100));
        Request(payload, maxRequestBytes: Encoding.UTF8.GetByteCount(payload));
    }

    [Fact]
    public void TryParse_defaultLimit_is8192Bytes()
    {
        var prefix = "{\"state\":{\"reported\":{\"b\":\"";
        var suffix = "\"}}}";
        var fits = prefix + new string('x', 8192 - prefix.Length - suffix.Length) + suffix;
        var over = prefix + new string('x', 8193 - prefix.Length - suffix.Length) + suffix;

        Request(fits);
        Assert.Equal(413, Refusal(over).Code);
    }

    [Fact]
    public void TryParse_notUtf8_is415()
    {
        byte[] payload = [.. Utf8("""{"state":{"reported":{"a":" """), 0xC3, 0x28, .. Utf8("\"}}}")];

        Assert.Equal(new ShadowError(415, "Unsupported documented encoding; supported encoding is UTF-8"), Refusal(payload));
    }

    [Fact]
    public void ShadowError_ToPayload_isTheAwsErrorDocument()
    {
        Equal("""{"code":409,"message":"Version conflict","timestamp":1700000000,"clientToken":"c-9"}""", ShadowError.VersionConflict("c-9").ToPayload(1700000000));
        Equal("""{"code":400,"message":"Payload contains invalid json","timestamp":5}""", ShadowError.InvalidJson().ToPayload(5));
    }

    [Theory]
    [InlineData("", null)]
    [InlineData("  \r\n", null)]
    [InlineData("{}", null)]
    [InlineData("not json", null)]
    [InlineData("[1]", null)]
    [InlineData("""{"clientToken":null}""", null)]
    [InlineData("""{"clientToken":"abc","version":3,"state":{"x":1}}""", "abc")]
    public void ShadowClientToken_TryRead_getOrDeleteRequest_readsTokenAndIgnoresTheRest(string request, string? expected)
    {
        Assert.True(ShadowClientToken.TryRead(Utf8(request), out var token, out var error));
        Assert.Null(error);
        Assert.Equal(expected, token);
    }

    [Fact]
    public void ShadowClientToken_TryRead_invalidToken_isRefused()
    {
        var longToken = new string('x', 65);

        Assert.False(ShadowClientToken.TryRead(Utf8("{\"clientToken\":\"" + longToken + "\"}"), out _, out var tooLong));
        Assert.Equal(new ShadowError(400, "Invalid clientToken", longToken), tooLong);
        Assert.False(ShadowClientToken.TryRead(Utf8("""{"clientToken":7}"""), out _, out var notString));
        Assert.Equal(new ShadowError(400, "Invalid clientToken"), notString);
    }

    [Theory]
    [InlineData("""{"state":{"reported":{"a":"\uD800"}}}""")]
    [InlineData("""{"state":{"reported":{"a":"x\uDC00y"}}}""")]
    [InlineData("""{"state":{"reported":{"\uD800":1}}}""")]
    [InlineData("""{"state":{"reported":{"n":{"\uDBFF":1}}}}""")]
    [InlineData("""{"\uD800":1,"state":{}}""")]
    [InlineData("""{"state":{},"clientToken":"\uD800"}""")]
    public void TryParse_escapedLoneSurrogate_is400PayloadContainsInvalidJson(string payload)
        => Assert.Equal(new ShadowError(400, "Payload contains invalid json"), Refusal(payload));

    [Fact]
    public void ShadowClientToken_TryRead_escapedLoneSurrogate_isIgnoredLikeOtherUnreadableContent()
    {
        Assert.True(ShadowClientToken.TryRead(Utf8("""{"clientToken":"\uD800"}"""), out var token, out _));
        Assert.Null(token);
    }
}
