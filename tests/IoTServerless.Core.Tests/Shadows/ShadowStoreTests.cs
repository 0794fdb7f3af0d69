using Azure;
using Azure.Data.Tables;
using IoTServerless.Core.Shadows;
using IoTServerless.Core.Storage;
using IoTServerless.Core.Tests.Storage;
using IoTServerless.Testing;
using static IoTServerless.Core.Tests.Shadows.ShadowJsonAssert;

namespace IoTServerless.Core.Tests.Shadows;

/// <summary>Shadow entities in real Table storage (Azurite).</summary>
[Collection(AzuriteCollection.Name)]
public sealed class ShadowStoreTests(AzuriteFixture azurite)
{
    const long T = 1_700_000_000;

    readonly TableClientProvider _tables = TestTables.Provider(azurite);

    ShadowStore Store() => new(_tables);

    static string NewThing() => "thing-" + Guid.NewGuid().ToString("N")[..12];

    static ShadowDocument Updated(ShadowDocument shadow, string request, int maxStateBytes = ShadowDocument.DefaultMaxStateBytes)
    {
        var outcome = shadow.Update(Request(request, maxRequestBytes: 1 << 20), T, maxStateBytes);
        Assert.NotNull(outcome.Updated);
        return outcome.Updated;
    }

    async Task<TableEntity> EntityAsync(string thing, string rowKey)
    {
        var table = await _tables.GetTableAsync(TableNames.Shadows, CancellationToken.None);
        return (await table.GetEntityAsync<TableEntity>(thing, rowKey)).Value;
    }

    [Fact]
    public async Task GetAsync_noEntity_isNoneWithoutETag()
    {
        var stored = await Store().GetAsync(NewThing(), null, CancellationToken.None);

        Assert.Same(ShadowDocument.None, stored.Document);
        Assert.Null(stored.ETag);
    }

    [Fact]
    public async Task TryWriteAsync_thenGetAsync_roundTripsTheClassicShadowUnderAnEmptyRowKey()
    {
        var thing = NewThing();
        var shadow = Updated(ShadowDocument.None, """{"state":{"desired":{"a":[1,{"b":"é"}]},"reported":{"n":1.50}}}""");

        Assert.True(await Store().TryWriteAsync(thing, null, shadow, null, CancellationToken.None));
        var stored = await Store().GetAsync(thing, null, CancellationToken.None);

        Assert.NotNull(stored.ETag);
        Assert.True(stored.Document.Exists);
        Assert.Equal(1, stored.Document.Version);
        Assert.Equal(shadow.StateJson(), stored.Document.StateJson());
        Assert.Equal(shadow.MetadataJson(), stored.Document.MetadataJson());
        var entity = await EntityAsync(thing, "");
        Assert.Equal(1L, entity.GetInt64("Version"));
        Assert.False(entity.GetBoolean("Deleted"));
        Equal("""{"desired":{"a":[1,{"b":"é"}]},"reported":{"n":1.50}}""", System.Text.Json.Nodes.JsonNode.Parse(entity.GetString("State")!));
    }

    [Fact]
    public async Task TryWriteAsync_createWhenAnEntityAppearedMeanwhile_isFalse()
    {
        var thing = NewThing();
        var shadow = Updated(ShadowDocument.None, """{"state":{"reported":{"a":1}}}""");
        Assert.True(await Store().TryWriteAsync(thing, "s", shadow, null, CancellationToken.None));

        Assert.False(await Store().TryWriteAsync(thing, "s", shadow, null, CancellationToken.None));
    }

    [Fact]
    public async Task TryWriteAsync_staleETag_isFalseAndKeepsTheNewerDocument()
    {
        var thing = NewThing();
        var store = Store();
        Assert.True(await store.TryWriteAsync(thing, null, Updated(ShadowDocument.None, """{"state":{"reported":{"a":1}}}"""), null, CancellationToken.None));
        var read = await store.GetAsync(thing, null, CancellationToken.None);
        Assert.True(await store.TryWriteAsync(thing, null, Updated(read.Document, """{"state":{"reported":{"a":2}}}"""), read.ETag, CancellationToken.None));

        var lost = await store.TryWriteAsync(thing, null, Updated(read.Document, """{"state":{"reported":{"a":3}}}"""), read.ETag, CancellationToken.None);

        Assert.False(lost);
        Equal("""{"reported":{"a":2}}""", (await store.GetAsync(thing, null, CancellationToken.None)).Document.State);
    }

    [Fact]
    public async Task TryWriteAsync_deletedDocument_keepsATombstoneWithTheVersion()
    {
        var thing = NewThing();
        var store = Store();
        var shadow = Updated(Updated(ShadowDocument.None, """{"state":{"reported":{"a":1}}}"""), """{"state":{"reported":{"a":2}}}""");
        Assert.True(await store.TryWriteAsync(thing, "s", shadow, null, CancellationToken.None));
        var read = await store.GetAsync(thing, "s", CancellationToken.None);

        Assert.True(await store.TryWriteAsync(thing, "s", read.Document.Delete("s", null, T).Updated!, read.ETag, CancellationToken.None));
        var tombstone = await store.GetAsync(thing, "s", CancellationToken.None);

        Assert.False(tombstone.Document.Exists);
        Assert.Equal(2, tombstone.Document.Version);
        Assert.NotNull(tombstone.ETag);
        var entity = await EntityAsync(thing, "s");
        Assert.True(entity.GetBoolean("Deleted"));
        Assert.Null(entity.GetString("State"));
    }

    [Fact]
    public async Task TryWriteAsync_metadataLongerThanAColumn_isSpreadOverColumnsAndShrinksBack()
    {
        var thing = NewThing();
        var store = Store();
        // 3,000 one-digit elements: ~6 KB of state, ~70 KB of metadata (one {"timestamp":…} per element).
        var array = "[" + string.Join(",", Enumerable.Repeat("7", 3000)) + "]";
        var large = Updated(ShadowDocument.None, "{\"state\":{\"reported\":{\"samples\":" + array + "}}}");
        Assert.True(large.MetadataJson().Length > 60_000);

        Assert.True(await store.TryWriteAsync(thing, null, large, null, CancellationToken.None));
        var read = await store.GetAsync(thing, null, CancellationToken.None);

        Assert.Equal(large.MetadataJson(), read.Document.MetadataJson());
        Assert.Equal(large.StateJson(), read.Document.StateJson());
        Assert.NotNull((await EntityAsync(thing, "")).GetString("Metadata2"));

        var small = Updated(read.Document, """{"state":{"reported":{"samples":null,"x":1}}}""");
        Assert.True(await store.TryWriteAsync(thing, null, small, read.ETag, CancellationToken.None));

        Assert.Equal(small.MetadataJson(), (await store.GetAsync(thing, null, CancellationToken.None)).Document.MetadataJson());
        var entity = await EntityAsync(thing, "");
        Assert.Null(entity.GetString("Metadata1"));
        Assert.Null(entity.GetString("Metadata2"));
    }

    [Fact]
    public async Task TryWriteAsync_textOfSurrogatePairsAcrossAColumnBoundary_roundTrips()
    {
        var thing = NewThing();
        var store = Store();
        // Emoji are two UTF-16 units each; a padding key shifts the metadata text until one straddles the 30,000-character column boundary.
        var keys = string.Join(",", Enumerable.Range(0, 1600).Select(i => $"\"{i}😀\":1"));
        var shadow = Enumerable.Range(0, 40)
            .Select(pad => Updated(ShadowDocument.None, "{\"state\":{\"reported\":{\"" + new string('p', pad + 1) + "\":1," + keys + "}}}", maxStateBytes: 1 << 20))
            .First(s => char.IsHighSurrogate(s.MetadataJson()[29_999]));

        Assert.True(await store.TryWriteAsync(thing, null, shadow, null, CancellationToken.None));

        var read = await store.GetAsync(thing, null, CancellationToken.None);
        Assert.Equal(shadow.MetadataJson(), read.Document.MetadataJson());
        Assert.Equal(shadow.StateJson(), read.Document.StateJson());
    }

    [Fact]
    public async Task ListNamedAsync_excludesTheClassicAndDeletedShadowsAndOtherThings()
    {
        var thing = NewThing();
        var store = Store();
        var shadow = Updated(ShadowDocument.None, """{"state":{}}""");
        foreach (var name in new string?[] { null, "b", "a", "gone" })
        {
            Assert.True(await store.TryWriteAsync(thing, name, shadow, null, CancellationToken.None));
        }
        Assert.True(await store.TryWriteAsync(NewThing(), "other", shadow, null, CancellationToken.None));
        var gone = await store.GetAsync(thing, "gone", CancellationToken.None);
        Assert.True(await store.TryWriteAsync(thing, "gone", ShadowDocument.Deleted(gone.Document.Version), gone.ETag, CancellationToken.None));

        var (names, next) = await store.ListNamedAsync(thing, null, null, CancellationToken.None);

        Assert.Equal(["a", "b"], names);
        Assert.Null(next);
    }

    [Fact]
    public void RowKey_classicIsEmptyAndNamedIsTheName()
    {
        Assert.Equal("", ShadowStore.RowKey(null));
        Assert.Equal("$package", ShadowStore.RowKey("$package"));
    }

    [Fact]
    public async Task GetAsync_entityWrittenByAnotherVersion_missingColumnsReadAsEmpty()
    {
        var thing = NewThing();
        var table = await _tables.GetTableAsync(TableNames.Shadows, CancellationToken.None);
        await table.AddEntityAsync(new TableEntity(thing, "bare") { ["Version"] = 4L });

        var stored = await Store().GetAsync(thing, "bare", CancellationToken.None);

        Assert.True(stored.Document.Exists);
        Assert.Equal(4, stored.Document.Version);
        Equal("{}", stored.Document.State);
        Assert.IsType<ETag>(stored.ETag);
    }
}
