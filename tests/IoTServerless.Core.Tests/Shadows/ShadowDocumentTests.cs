using System.Text;
using IoTServerless.Core.Shadows;
using static IoTServerless.Core.Tests.Shadows.ShadowJsonAssert;

namespace IoTServerless.Core.Tests.Shadows;

/// <summary>Merge, metadata, version, delta and response documents of the pure shadow logic.</summary>
public sealed class ShadowDocumentTests
{
    const long T0 = 1_700_000_000;
    const long T1 = 1_700_000_100;
    const long T2 = 1_700_000_200;

    static ShadowOutcome Update(ShadowDocument shadow, string request, long timestamp = T0, int maxStateBytes = ShadowDocument.DefaultMaxStateBytes)
        => shadow.Update(Request(request, maxRequestBytes: 1 << 20), timestamp, maxStateBytes);

    /// <summary>The document after an accepted update.</summary>
    static ShadowDocument Apply(ShadowDocument shadow, string request, long timestamp = T0)
    {
        var outcome = Update(shadow, request, timestamp);
        Assert.True(outcome.Result.Accepted, System.Text.Encoding.UTF8.GetString(outcome.Result.Payload));
        Assert.NotNull(outcome.Updated);
        return outcome.Updated;
    }

    static ShadowDocument Shadow(params string[] requests) => requests.Aggregate(ShadowDocument.None, (s, r) => Apply(s, r));

    [Fact]
    public void Update_newShadow_isVersion1AndAcceptedEchoesTheRequestWithMetadata()
    {
        var outcome = Update(ShadowDocument.None, """{"state":{"desired":{"color":"red","power":{"on":true,"level":3}}},"clientToken":"c-1"}""");

        Assert.Equal(200, outcome.Result.StatusCode);
        Assert.True(outcome.Updated!.Exists);
        Assert.Equal(1, outcome.Updated.Version);
        Equal("""
            {"state":{"desired":{"color":"red","power":{"on":true,"level":3}}},
             "metadata":{"desired":{"color":{"timestamp":1700000000},"power":{"on":{"timestamp":1700000000},"level":{"timestamp":1700000000}}}},
             "version":1,"timestamp":1700000000,"clientToken":"c-1"}
            """, outcome.Result.Payload);
        Equal("""{"desired":{"color":"red","power":{"on":true,"level":3}}}""", outcome.Updated.State);
    }

    [Fact]
    public void Update_mergesOnlyTheNamedFields()
    {
        var shadow = Shadow(
            """{"state":{"desired":{"color":"red","power":{"on":true,"level":3}},"reported":{"temp":20}}}""",
            """{"state":{"desired":{"power":{"level":5},"mode":"eco"}}}""");

        Equal("""{"desired":{"color":"red","power":{"on":true,"level":5},"mode":"eco"},"reported":{"temp":20}}""", shadow.State);
        Assert.Equal(2, shadow.Version);
    }

    [Fact]
    public void Update_nullRemovesTheKeyAndItsMetadata()
    {
        var shadow = Shadow(
            """{"state":{"reported":{"color":"red","engine":"ON"}}}""",
            """{"state":{"reported":{"engine":null}}}""");

        Equal("""{"reported":{"color":"red"}}""", shadow.State);
        Equal("""{"reported":{"color":{"timestamp":1700000000}}}""", shadow.Metadata);
    }

    [Fact]
    public void Update_nullDeepInsideAnObject_removesRecursivelyAndPrunesObjectsItEmptied()
    {
        var shadow = Shadow(
            """{"state":{"reported":{"a":{"b":{"c":1},"keep":2},"x":{"y":{"z":1}}}}}""",
            """{"state":{"reported":{"a":{"b":{"c":null}},"x":{"y":{"z":null}}}}}""");

        Equal("""{"reported":{"a":{"keep":2}}}""", shadow.State);
        Equal("""{"reported":{"a":{"keep":{"timestamp":1700000000}}}}""", shadow.Metadata);
    }

    [Fact]
    public void Update_newObjectOfOnlyNulls_addsNothing()
    {
        var shadow = Shadow(
            """{"state":{"reported":{"a":1}}}""",
            """{"state":{"reported":{"b":{"c":null,"d":{"e":null}},"f":null}}}""");

        Equal("""{"reported":{"a":1}}""", shadow.State);
    }

    [Fact]
    public void Update_newObjectWithNulls_isWrittenWithoutThem()
    {
        var shadow = Shadow("""{"state":{"reported":{"b":{"c":null,"d":2,"e":{"f":null}}}}}""");

        Equal("""{"reported":{"b":{"d":2}}}""", shadow.State);
        Equal("""{"reported":{"b":{"d":{"timestamp":1700000000}}}}""", shadow.Metadata);
    }

    [Fact]
    public void Update_emptyObjectAsSent_isKept()
    {
        var shadow = Shadow("""{"state":{"reported":{"a":1,"settings":{}}}}""");

        Equal("""{"reported":{"a":1,"settings":{}}}""", shadow.State);
        Equal("""{"reported":{"a":{"timestamp":1700000000},"settings":{}}}""", shadow.Metadata);
    }

    [Fact]
    public void Update_removingEveryKey_removesTheSection()
    {
        var shadow = Shadow(
            """{"state":{"desired":{"a":1},"reported":{"a":1}}}""",
            """{"state":{"desired":{"a":null}}}""");

        Equal("""{"reported":{"a":1}}""", shadow.State);
        Equal("""{"reported":{"a":{"timestamp":1700000000}}}""", shadow.Metadata);
    }

    [Fact]
    public void Update_desiredNull_removesTheWholeSectionAndAcceptedMirrorsTheNull()
    {
        var first = Shadow("""{"state":{"desired":{"a":1,"b":{"c":2}},"reported":{"a":0}}}""");

        var outcome = Update(first, """{"state":{"reported":{"a":1},"desired":null}}""", T1);

        Equal("""{"reported":{"a":1}}""", outcome.Updated!.State);
        Equal("""{"reported":{"a":{"timestamp":1700000100}}}""", outcome.Updated.Metadata);
        Equal("""
            {"state":{"reported":{"a":1},"desired":null},
             "metadata":{"reported":{"a":{"timestamp":1700000100}},"desired":{"timestamp":1700000100}},
             "version":2,"timestamp":1700000100}
            """, outcome.Result.Payload);
        Assert.Null(outcome.Result.Delta);
    }

    [Fact]
    public void Update_stateNull_clearsTheStateAndAnswersAsAws()
    {
        var first = Shadow("""{"state":{"desired":{"a":1},"reported":{"b":2}}}""");

        var outcome = Update(first, """{"state":null}""", T1);

        Assert.True(outcome.Updated!.Exists);
        Assert.Equal(2, outcome.Updated.Version);
        Equal("{}", outcome.Updated.State);
        Equal("{}", outcome.Updated.Metadata);
        // AWS answers {"state":null} with the null echoed and metadata {"timestamp":…}.
        Equal("""{"state":null,"metadata":{"timestamp":1700000100},"version":2,"timestamp":1700000100}""", outcome.Result.Payload);
    }

    [Fact]
    public void Update_emptyState_isAcceptedAndOnlyAdvancesTheVersion()
    {
        var first = Shadow("""{"state":{"reported":{"a":1}}}""");

        var outcome = Update(first, """{"state":{}}""", T1);

        Equal("""{"reported":{"a":1}}""", outcome.Updated!.State);
        Equal("""{"reported":{"a":{"timestamp":1700000000}}}""", outcome.Updated.Metadata);
        Assert.Equal(2, outcome.Updated.Version);
        Equal("""{"state":{},"metadata":{},"version":2,"timestamp":1700000100}""", outcome.Result.Payload);
    }

    [Fact]
    public void Update_emptyStateOnNewShadow_createsAnEmptyShadow()
    {
        var shadow = Shadow("""{"state":{}}""");

        Assert.True(shadow.Exists);
        Assert.Equal(1, shadow.Version);
        Equal("{}", shadow.State);
    }

    [Fact]
    public void Update_emptySection_leavesNoSection()
    {
        var shadow = Shadow("""{"state":{"desired":{},"reported":{"a":1}}}""");

        Equal("""{"reported":{"a":1}}""", shadow.State);
    }

    [Fact]
    public void Update_arrayIsReplacedWholeAndItsMetadataIsPerElement()
    {
        var first = Shadow("""{"state":{"desired":{"colors":["RED","GREEN","BLUE"],"matrix":[[1,2],[3]],"list":[{"a":1}]}}}""");
        Equal("""
            {"desired":{"colors":[{"timestamp":1700000000},{"timestamp":1700000000},{"timestamp":1700000000}],
                        "matrix":[[{"timestamp":1700000000},{"timestamp":1700000000}],[{"timestamp":1700000000}]],
                        "list":[{"a":{"timestamp":1700000000}}]}}
            """, first.Metadata);

        var second = Apply(first, """{"state":{"desired":{"colors":["RED"],"list":[]}}}""", T1);

        Equal("""{"desired":{"colors":["RED"],"matrix":[[1,2],[3]],"list":[]}}""", second.State);
        Equal("""
            {"desired":{"colors":[{"timestamp":1700000100}],
                        "matrix":[[{"timestamp":1700000000},{"timestamp":1700000000}],[{"timestamp":1700000000}]],
                        "list":[]}}
            """, second.Metadata);
    }

    [Fact]
    public void Update_valuesChangeType_theNewValueAndItsMetadataReplaceTheOld()
    {
        var shadow = Shadow(
            """{"state":{"reported":{"a":{"x":1},"b":5,"c":[1,2],"d":{"y":2}}}}""",
            """{"state":{"reported":{"a":7,"b":{"z":{"w":1}},"c":{"k":true},"d":["p"]}}}""");

        Equal("""{"reported":{"a":7,"b":{"z":{"w":1}},"c":{"k":true},"d":["p"]}}""", shadow.State);
        Equal("""
            {"reported":{"a":{"timestamp":1700000000},"b":{"z":{"w":{"timestamp":1700000000}}},"c":{"k":{"timestamp":1700000000}},"d":[{"timestamp":1700000000}]}}
            """, shadow.Metadata);
    }

    [Fact]
    public void Update_metadataTimestamps_changeOnlyForTheLeavesWritten()
    {
        var first = Apply(ShadowDocument.None, """{"state":{"reported":{"a":1,"n":{"x":1,"y":2}}}}""", T0);

        var second = Apply(first, """{"state":{"reported":{"n":{"y":3},"b":true}}}""", T1);

        Equal("""
            {"reported":{"a":{"timestamp":1700000000},"n":{"x":{"timestamp":1700000000},"y":{"timestamp":1700000100}},"b":{"timestamp":1700000100}}}
            """, second.Metadata);
    }

    [Fact]
    public void Update_sameValueAgain_refreshesItsTimestampAndAdvancesTheVersion()
    {
        var first = Apply(ShadowDocument.None, """{"state":{"reported":{"a":1}}}""", T0);

        var second = Apply(first, """{"state":{"reported":{"a":1}}}""", T1);

        Equal("""{"reported":{"a":{"timestamp":1700000100}}}""", second.Metadata);
        Assert.Equal(2, second.Version);
    }

    [Fact]
    public void Update_everyAcceptedUpdate_addsOneToTheVersion()
    {
        var shadow = Shadow("""{"state":{"reported":{"a":1}}}""", """{"state":{"reported":{"a":2}}}""", """{"state":{"desired":{"a":3}}}""");

        Assert.Equal(3, shadow.Version);
    }

    [Fact]
    public void Update_currentVersion_isAccepted()
    {
        var shadow = Shadow("""{"state":{"reported":{"a":1}}}""", """{"state":{"reported":{"a":2}}}""");

        var updated = Apply(shadow, """{"state":{"reported":{"a":3}},"version":2}""");

        Assert.Equal(3, updated.Version);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(0)]
    public void Update_otherVersion_is409VersionConflictAndNothingChanges(long version)
    {
        var shadow = Shadow("""{"state":{"reported":{"a":1}}}""", """{"state":{"reported":{"a":2}}}""");

        var outcome = Update(shadow, "{\"state\":{\"reported\":{\"a\":9}},\"version\":" + version + ",\"clientToken\":\"v\"}", T1);

        Assert.Null(outcome.Updated);
        Assert.Equal(409, outcome.Result.StatusCode);
        Equal("""{"code":409,"message":"Version conflict","timestamp":1700000100,"clientToken":"v"}""", outcome.Result.Payload);
        Assert.Null(outcome.Result.Delta);
        Assert.Null(outcome.Result.Documents);
    }

    [Fact]
    public void Update_newShadowWithVersion0_isAcceptedAndWithOtherVersionsIsAConflict()
    {
        Assert.Equal(1, Apply(ShadowDocument.None, """{"state":{"reported":{"a":1}},"version":0}""").Version);
        Assert.Equal(409, Update(ShadowDocument.None, """{"state":{"reported":{"a":1}},"version":1}""").Result.StatusCode);
    }

    [Fact]
    public void Update_deletedShadow_continuesItsVersionAndHasNoPreviousDocument()
    {
        var deleted = ShadowDocument.Deleted(5);

        var outcome = Update(deleted, """{"state":{"reported":{"a":1}}}""");

        Assert.Equal(6, outcome.Updated!.Version);
        Assert.False(ParseDocuments(outcome).ContainsKey("previous"));
        Assert.Equal(6, Apply(deleted, """{"state":{"reported":{"a":1}},"version":5}""").Version);
        Assert.Equal(409, Update(deleted, """{"state":{"reported":{"a":1}},"version":0}""").Result.StatusCode);
    }

    [Fact]
    public void Update_stateOver8KB_is413AndNothingChanges()
    {
        var chunk = new string('x', 3000);
        var shadow = Shadow(
            "{\"state\":{\"desired\":{\"a\":\"" + chunk + "\"}}}",
            "{\"state\":{\"reported\":{\"b\":\"" + chunk + "\"}}}");

        var outcome = Update(shadow, "{\"state\":{\"reported\":{\"c\":\"" + chunk + "\"}},\"clientToken\":\"big\"}", T1);

        Assert.Null(outcome.Updated);
        Equal("""{"code":413,"message":"The payload exceeds the maximum size allowed","timestamp":1700000100,"clientToken":"big"}""", outcome.Result.Payload);
        Assert.Equal(2, shadow.Version);
        Equal("{\"desired\":{\"a\":\"" + chunk + "\"},\"reported\":{\"b\":\"" + chunk + "\"}}", shadow.State);
    }

    [Fact]
    public void Update_stateOfExactly8192Bytes_isAcceptedAndOneMoreByteIsNot()
    {
        // {"a":"…"} is 8 bytes around the text; desired + reported are counted together.
        var shadow = Shadow("{\"state\":{\"desired\":{\"a\":\"" + new string('x', 92) + "\"}}}");
        Assert.Equal(100, shadow.StateBytes);

        var fits = Update(shadow, "{\"state\":{\"reported\":{\"b\":\"" + new string('y', 8192 - 100 - 8) + "\"}}}");
        var over = Update(shadow, "{\"state\":{\"reported\":{\"b\":\"" + new string('y', 8192 - 100 - 7) + "\"}}}");

        Assert.Equal(8192, fits.Updated!.StateBytes);
        Assert.Equal(413, over.Result.StatusCode);
    }

    [Fact]
    public void Update_stateSize_countsUtf8Bytes()
    {
        var shadow = Shadow("""{"state":{"reported":{"t":"é€"}}}""");

        Assert.Equal(Encoding.UTF8.GetByteCount("""{"t":"é€"}"""), shadow.StateBytes);
        Assert.Equal("""{"reported":{"t":"é€"}}""", shadow.StateJson());
    }

    [Fact]
    public void Update_shrinkingAFullShadow_isAllowed()
    {
        var full = Shadow("{\"state\":{\"reported\":{\"a\":\"" + new string('x', 8000) + "\"}}}");

        var outcome = Update(full, """{"state":{"reported":{"a":null,"b":1}}}""", maxStateBytes: 8192);

        Assert.True(outcome.Result.Accepted);
        Equal("""{"reported":{"b":1}}""", outcome.Updated!.State);
    }

    [Fact]
    public void Update_desiredDiffersFromReported_deltaHoldsEveryDifferingLeafNotOnlyTheUpdatedOnes()
    {
        var first = Apply(ShadowDocument.None, """{"state":{"desired":{"color":"RED","state":"STOP","same":1},"reported":{"color":"GREEN","engine":"ON","same":1}}}""", T0);

        var outcome = Update(first, """{"state":{"desired":{"mode":"eco"}},"clientToken":"d-1"}""", T1);

        Equal("""
            {"version":2,"timestamp":1700000100,
             "state":{"color":"RED","state":"STOP","mode":"eco"},
             "metadata":{"color":{"timestamp":1700000000},"state":{"timestamp":1700000000},"mode":{"timestamp":1700000100}},
             "clientToken":"d-1"}
            """, outcome.Result.Delta);
    }

    [Fact]
    public void Update_nestedDifference_deltaHoldsThePathDownToTheLeaf()
    {
        var reported = Shadow("""{"state":{"reported":{"lights":{"color":{"r":255,"g":0,"b":255},"on":true}}}}""");

        var outcome = Update(reported, """{"state":{"desired":{"lights":{"color":{"r":255,"g":255,"b":255},"on":true}}}}""");

        var delta = Parse(outcome.Result.Delta);
        Equal("""{"lights":{"color":{"g":255}}}""", delta["state"]);
        Equal("""{"lights":{"color":{"g":{"timestamp":1700000000}}}}""", delta["metadata"]);
    }

    [Fact]
    public void Update_desiredArrayDiffers_theWholeDesiredArrayIsInTheDelta()
    {
        var reported = Shadow("""{"state":{"reported":{"colors":["RED","GREEN"],"same":[1,2]}}}""");

        var outcome = Update(reported, """{"state":{"desired":{"colors":["RED","BLUE"],"same":[1,2]}}}""");

        var delta = Parse(outcome.Result.Delta);
        Equal("""{"colors":["RED","BLUE"]}""", delta["state"]);
        Equal("""{"colors":[{"timestamp":1700000000},{"timestamp":1700000000}]}""", delta["metadata"]);
    }

    [Fact]
    public void Update_desiredKeyRemovedFromReported_appearsInTheDelta()
    {
        var synced = Shadow("""{"state":{"desired":{"a":1,"b":2},"reported":{"a":1,"b":2}}}""");
        Assert.Null(synced.Delta);

        var removed = Apply(synced, """{"state":{"reported":{"b":null}}}""");
        var outcome = Update(removed, """{"state":{"desired":{"c":3}}}""");

        Equal("""{"b":2}""", removed.Delta);
        Equal("""{"b":2,"c":3}""", Parse(outcome.Result.Delta)["state"]);
    }

    [Fact]
    public void Update_numbersEqualInValue_areNotADifference()
    {
        var reported = Shadow("""{"state":{"reported":{"t":20.0,"n":{"x":1}}}}""");

        var outcome = Update(reported, """{"state":{"desired":{"t":20,"n":{"x":1.0}}}}""");

        Assert.Null(outcome.Result.Delta);
    }

    [Fact]
    public void Update_reportedOnly_publishesNoDeltaEvenWhenDesiredStillDiffers()
    {
        var desired = Shadow("""{"state":{"desired":{"color":"red"}}}""");

        var outcome = Update(desired, """{"state":{"reported":{"color":"green"}}}""");

        Assert.Null(outcome.Result.Delta);
        Equal("""{"color":"red"}""", outcome.Updated!.Delta);
    }

    [Fact]
    public void Update_desiredMatchingReported_publishesNoDelta()
    {
        var reported = Shadow("""{"state":{"reported":{"color":"red","temp":20}}}""");

        var outcome = Update(reported, """{"state":{"desired":{"color":"red"}}}""");

        Assert.Null(outcome.Result.Delta);
        Assert.NotNull(outcome.Result.Documents);
    }

    [Fact]
    public void Update_documents_holdPreviousAndCurrentWithTheirVersions()
    {
        var first = Apply(ShadowDocument.None, """{"state":{"reported":{"a":1}}}""", T0);

        var outcome = Update(first, """{"state":{"desired":{"a":2}},"clientToken":"doc"}""", T1);

        Equal("""
            {"previous":{"state":{"reported":{"a":1}},"metadata":{"reported":{"a":{"timestamp":1700000000}}},"version":1},
             "current":{"state":{"desired":{"a":2},"reported":{"a":1}},
                        "metadata":{"desired":{"a":{"timestamp":1700000100}},"reported":{"a":{"timestamp":1700000000}}},"version":2},
             "timestamp":1700000100,"clientToken":"doc"}
            """, outcome.Result.Documents);
    }

    [Fact]
    public void Update_documentsOfANewShadow_haveNoPrevious()
    {
        var outcome = Update(ShadowDocument.None, """{"state":{"reported":{"a":1}}}""");

        Equal("""
            {"current":{"state":{"reported":{"a":1}},"metadata":{"reported":{"a":{"timestamp":1700000000}}},"version":1},"timestamp":1700000000}
            """, outcome.Result.Documents);
    }

    [Fact]
    public void Update_accepted_echoesTheStateAsSentIncludingNulls()
    {
        var first = Shadow("""{"state":{"desired":{"a":1,"b":{"c":2}}}}""");

        var outcome = Update(first, """{"state":{"desired":{"a":null,"b":{"c":null},"list":[1.50,"é"]}},"version":1,"clientToken":"x"}""", T1);

        Equal("""
            {"state":{"desired":{"a":null,"b":{"c":null},"list":[1.50,"é"]}},
             "metadata":{"desired":{"a":{"timestamp":1700000100},"b":{"c":{"timestamp":1700000100}},"list":[{"timestamp":1700000100},{"timestamp":1700000100}]}},
             "version":2,"timestamp":1700000100,"clientToken":"x"}
            """, outcome.Result.Payload);
        Assert.Contains("[1.50,\"é\"]", Encoding.UTF8.GetString(outcome.Result.Payload), StringComparison.Ordinal);
    }

    [Fact]
    public void Get_existingShadow_holdsStateDeltaMetadataVersionAndClientToken()
    {
        var first = Apply(ShadowDocument.None, """{"state":{"desired":{"color":"RED","state":"STOP"},"reported":{"color":"GREEN","engine":"ON"}}}""", T0);
        var shadow = Apply(first, """{"state":{"desired":{"color":"BLUE"}}}""", T1);

        var result = shadow.Get("thing-1", "g-1", T2);

        Assert.Equal(200, result.StatusCode);
        Equal("""
            {"state":{"desired":{"color":"BLUE","state":"STOP"},"reported":{"color":"GREEN","engine":"ON"},"delta":{"color":"BLUE","state":"STOP"}},
             "metadata":{"desired":{"color":{"timestamp":1700000100},"state":{"timestamp":1700000000}},
                         "reported":{"color":{"timestamp":1700000000},"engine":{"timestamp":1700000000}},
                         "delta":{"color":{"timestamp":1700000100},"state":{"timestamp":1700000000}}},
             "version":2,"timestamp":1700000200,"clientToken":"g-1"}
            """, result.Payload);
    }

    [Fact]
    public void Get_shadowInSync_hasNoDelta()
    {
        var shadow = Shadow("""{"state":{"desired":{"a":1},"reported":{"a":1}}}""");

        var document = Parse(shadow.Get("t", null, T1).Payload);

        Assert.False(document["state"]!.AsObject().ContainsKey("delta"));
        Assert.False(document["metadata"]!.AsObject().ContainsKey("delta"));
        Assert.False(document.ContainsKey("clientToken"));
    }

    [Fact]
    public void Get_emptyShadow_isEmptyStateAndMetadata()
        => Equal("""{"state":{},"metadata":{},"version":1,"timestamp":1700000100}""", Shadow("""{"state":{}}""").Get("t", null, T1).Payload);

    [Fact]
    public void Get_missingOrDeletedShadow_is404NamingIt()
    {
        Equal("""{"code":404,"message":"No shadow exists with name: 'thing-1'","timestamp":1700000100,"clientToken":"c"}""", ShadowDocument.None.Get("thing-1", "c", T1).Payload);
        Equal("""{"code":404,"message":"No shadow exists with name: 'config'","timestamp":1700000100}""", ShadowDocument.Deleted(4).Get("config", null, T1).Payload);
    }

    [Fact]
    public void Delete_existingShadow_answersVersionAndKeepsItForTheTombstone()
    {
        var shadow = Shadow("""{"state":{"reported":{"a":1}}}""", """{"state":{"reported":{"a":2}}}""");

        var outcome = shadow.Delete("t", "del", T1);

        Equal("""{"version":2,"timestamp":1700000100,"clientToken":"del"}""", outcome.Result.Payload);
        Assert.False(outcome.Updated!.Exists);
        Assert.Equal(2, outcome.Updated.Version);
        Assert.Equal(404, outcome.Updated.Get("t", null, T1).StatusCode);
    }

    [Fact]
    public void Delete_missingShadow_is404()
    {
        var outcome = ShadowDocument.Deleted(3).Delete("t", "c", T1);

        Assert.Null(outcome.Updated);
        Equal("""{"code":404,"message":"No shadow exists with name: 't'","timestamp":1700000100,"clientToken":"c"}""", outcome.Result.Payload);
    }

    [Fact]
    public void FromStorage_roundTripsStateMetadataAndVersion()
    {
        var first = Apply(ShadowDocument.None, """{"state":{"desired":{"a":[1,{"b":"é"}],"n":{"x":1.50}},"reported":{"a":[1]}}}""", T0);
        var shadow = Apply(first, """{"state":{"reported":{"z":true}}}""", T1);

        var read = ShadowDocument.FromStorage(shadow.StateJson(), shadow.MetadataJson(), shadow.Version, deleted: false);

        Assert.True(read.Exists);
        Assert.Equal(2, read.Version);
        Equal(shadow.State.ToJsonString(), read.State);
        Equal(shadow.Metadata.ToJsonString(), read.Metadata);
        Assert.Equal(shadow.Get("t", null, T2).Payload, read.Get("t", null, T2).Payload);
        Assert.Contains("1.50", read.StateJson(), StringComparison.Ordinal);
    }

    [Fact]
    public void FromStorage_deleted_isATombstoneWithItsVersion()
    {
        var read = ShadowDocument.FromStorage(null, null, 9, deleted: true);

        Assert.False(read.Exists);
        Assert.Equal(9, read.Version);
    }

    [Fact]
    public void Update_textBeyondTheBasicPlane_isKeptAsUtf8AndCountedByItsBytes()
    {
        var outcome = Update(ShadowDocument.None, """{"state":{"reported":{"mood":"😀","lower":"\ud83d\ude00","plain":"\u0041"}}}""");

        Assert.Equal("""{"reported":{"mood":"😀","lower":"😀","plain":"A"}}""", outcome.Updated!.StateJson());
        Assert.Equal(Encoding.UTF8.GetByteCount("""{"mood":"😀","lower":"😀","plain":"A"}"""), outcome.Updated.StateBytes);
        Assert.Contains("\"mood\":\"😀\"", Encoding.UTF8.GetString(outcome.Result.Payload), StringComparison.Ordinal);
    }

    [Fact]
    public void Update_textNeedingEscapes_keepsThemAndRoundTrips()
    {
        var outcome = Update(ShadowDocument.None, """{"state":{"reported":{"q":"say \"hi\"","path":"C:\\dir","lines":"a\nb\u0001","literal":"\\u0041","html":"<b>&+'"}}}""");

        var state = outcome.Updated!.StateJson();
        Equal("""{"reported":{"q":"say \"hi\"","path":"C:\\dir","lines":"a\nb\u0001","literal":"\\u0041","html":"<b>&+'"}}""", System.Text.Json.Nodes.JsonNode.Parse(state));
        Assert.Contains("\"literal\":\"\\\\u0041\"", state, StringComparison.Ordinal);
        Assert.Contains("<b>&+'", state, StringComparison.Ordinal);
    }

    static System.Text.Json.Nodes.JsonObject ParseDocuments(ShadowOutcome outcome) => Parse(outcome.Result.Documents);
}
