using Azure.Data.Tables;
using IoTServerless.Core.Registry;
using IoTServerless.Core.Storage;
using IoTServerless.Core.Tests.Storage;
using IoTServerless.Testing;
using static IoTServerless.Core.Tests.Registry.RegistryTestData;

namespace IoTServerless.Core.Tests.Registry;

/// <summary>Things (create, describe, update, delete, list) in real Table storage (Azurite).</summary>
[Collection(AzuriteCollection.Name)]
public sealed class ThingRegistryTests(AzuriteFixture azurite)
{
    static readonly CancellationToken None = CancellationToken.None;
    readonly ThingStore _things = new(TestTables.Provider(azurite));
    readonly ThingTypeStore _types = new(TestTables.Provider(azurite));

    async Task<string> TypeAsync()
    {
        var type = Name("type");
        await _types.CreateAsync(type, new CreateThingTypeRequest(), None);
        return type;
    }

    async Task<RegistryException> RefusedAsync(Func<Task> action) => await Assert.ThrowsAsync<RegistryException>(action);

    [Fact]
    public async Task CreateAsync_newThing_isDescribedWithVersion1AndUnknownConnectivity()
    {
        var type = await TypeAsync();
        var name = Name("thing");

        var created = await _things.CreateAsync(name, new CreateThingRequest { ThingTypeName = type, Attributes = Attrs(("farm", "A"), ("row", "7")) }, None);

        Assert.Equal(name, created.ThingName);
        Assert.Equal($"arn:aws:iot:local:000000000000:thing/{name}", created.ThingArn);
        Assert.True(Guid.TryParse(created.ThingId, out _));
        var thing = await _things.GetAsync(name, None);
        Assert.NotNull(thing);
        Assert.Equal(created.ThingId, thing.ThingId);
        Assert.Equal(type, thing.ThingTypeName);
        Assert.Equal(Attrs(("farm", "A"), ("row", "7")), thing.Attributes);
        Assert.Equal(1, thing.Version);
        Assert.Equal(ThingConnectivity.Unknown, thing.Connectivity);
    }

    [Fact]
    public async Task Arns_useThePlatformRegionAndAccount()
    {
        var platform = Microsoft.Extensions.Options.Options.Create(new PlatformOptions { Region = "westeurope", AccountId = "123456789012" });
        var things = new ThingStore(TestTables.Provider(azurite), platform: platform);
        var groups = new ThingGroupStore(TestTables.Provider(azurite), platform: platform);
        var types = new ThingTypeStore(TestTables.Provider(azurite), platform: platform);
        var name = Name("thing");

        Assert.Equal($"arn:aws:iot:westeurope:123456789012:thing/{name}", (await things.CreateAsync(name, new CreateThingRequest(), None)).ThingArn);
        Assert.Equal($"arn:aws:iot:westeurope:123456789012:thinggroup/{name}", (await groups.CreateAsync(name, new CreateThingGroupRequest(), None)).ThingGroupArn);
        Assert.Equal($"arn:aws:iot:westeurope:123456789012:thingtype/{name}", (await types.CreateAsync(name, new CreateThingTypeRequest(), None)).ThingTypeArn);
    }

    [Fact]
    public async Task CreateAsync_identicalAgain_isIdempotentWithTheSameId()
    {
        var name = Name("thing");
        var request = new CreateThingRequest { Attributes = Attrs(("a", "1")) };
        var first = await _things.CreateAsync(name, request, None);

        var second = await _things.CreateAsync(name, new CreateThingRequest { Attributes = Attrs(("a", "1")) }, None);

        Assert.Equal(first, second);
        Assert.Equal(1, (await _things.GetAsync(name, None))!.Version);
    }

    [Fact]
    public async Task CreateAsync_existingWithDifferentSettings_isResourceAlreadyExistsAndChangesNothing()
    {
        var name = Name("thing");
        var type = await TypeAsync();
        await _things.CreateAsync(name, new CreateThingRequest { Attributes = Attrs(("a", "1")) }, None);
        var before = await _things.GetAsync(name, None);

        Assert.Equal(RegistryError.ResourceAlreadyExists, (await RefusedAsync(() => _things.CreateAsync(name, new CreateThingRequest { Attributes = Attrs(("a", "2")) }, None))).Error);
        Assert.Equal(RegistryError.ResourceAlreadyExists, (await RefusedAsync(() => _things.CreateAsync(name, new CreateThingRequest { ThingTypeName = type, Attributes = Attrs(("a", "1")) }, None))).Error);

        Assert.Equal(before, await _things.GetAsync(name, None), ThingComparer.Instance);
    }

    [Fact]
    public async Task CreateAsync_concurrentIdenticalCreates_allSucceedWithOneId()
    {
        var name = Name("thing");

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => _things.CreateAsync(name, new CreateThingRequest(), None))));

        Assert.Single(results.Select(r => r.ThingId).Distinct());
    }

    [Theory]
    [InlineData("bad name")]
    [InlineData("")]
    [InlineData("a/b")]
    public async Task CreateAsync_invalidName_isInvalidRequest(string name)
        => Assert.Equal(RegistryError.InvalidRequest, (await RefusedAsync(() => _things.CreateAsync(name, new CreateThingRequest(), None))).Error);

    [Fact]
    public async Task CreateAsync_attributeLimits_are3WithoutTypeAnd50WithType()
    {
        var type = await TypeAsync();
        var four = Enumerable.Range(0, 4).ToDictionary(i => $"k{i}", i => "v");
        var fifty = Enumerable.Range(0, 50).ToDictionary(i => $"k{i}", i => new string('v', 800));
        var fiftyOne = Enumerable.Range(0, 51).ToDictionary(i => $"k{i}", i => "v");
        var untyped = Name("thing");
        var typed = Name("thing");

        var tooMany = await RefusedAsync(() => _things.CreateAsync(untyped, new CreateThingRequest { Attributes = four }, None));
        Assert.Contains("at most 3", tooMany.Message);
        Assert.Equal(RegistryError.InvalidRequest, (await RefusedAsync(() => _things.CreateAsync(typed, new CreateThingRequest { ThingTypeName = type, Attributes = fiftyOne }, None))).Error);
        Assert.Null(await _things.GetAsync(untyped, None));
        Assert.Null(await _things.GetAsync(typed, None));

        await _things.CreateAsync(typed, new CreateThingRequest { ThingTypeName = type, Attributes = fifty }, None);
        Assert.Equal(fifty, (await _things.GetAsync(typed, None))!.Attributes);
    }

    [Theory]
    [InlineData("has space", "v")]
    [InlineData("k", "has space")]
    [InlineData("k", "quote\"")]
    [InlineData("", "v")]
    public async Task CreateAsync_invalidAttribute_isInvalidRequestNamingIt(string attribute, string value)
    {
        var name = Name("thing");

        var ex = await RefusedAsync(() => _things.CreateAsync(name, new CreateThingRequest { Attributes = Attrs((attribute, value)) }, None));

        Assert.Equal(RegistryError.InvalidRequest, ex.Error);
        Assert.Contains($"'{attribute}'", ex.Message);
        Assert.Null(await _things.GetAsync(name, None));
    }

    [Fact]
    public async Task CreateAsync_attributeCharactersAllowedByAws_areStoredAsGiven()
    {
        var name = Name("thing");
        var attributes = Attrs(("a_.,@/:#-Z9", "x_.,@/:#=[]-Z9"), ("long", new string('v', 800)));

        await _things.CreateAsync(name, new CreateThingRequest { Attributes = attributes }, None);

        Assert.Equal(attributes, (await _things.GetAsync(name, None))!.Attributes);
    }

    [Fact]
    public async Task CreateAsync_unknownType_isResourceNotFound_deprecatedType_isInvalidRequest()
    {
        var name = Name("thing");
        Assert.Equal(RegistryError.ResourceNotFound, (await RefusedAsync(() => _things.CreateAsync(name, new CreateThingRequest { ThingTypeName = Name("nope") }, None))).Error);
        var type = await TypeAsync();
        await _types.DeprecateAsync(type, undo: false, None);

        var ex = await RefusedAsync(() => _things.CreateAsync(name, new CreateThingRequest { ThingTypeName = type }, None));

        Assert.Equal(RegistryError.InvalidRequest, ex.Error);
        Assert.Contains("deprecated", ex.Message);
        Assert.Null(await _things.GetAsync(name, None));
    }

    [Fact]
    public async Task CreateAsync_overAnEntityLeftByOldPresence_registersAndKeepsConnectivity()
    {
        // Before things had to be registered, presence created bare entities.
        var name = Name("thing");
        var direct = new TableClient(azurite.ConnectionString, TableNames.Things);
        await direct.AddEntityAsync(new TableEntity(name, "") { ["Connected"] = true, ["ConnectivityTimestamp"] = 1234L, ["ConnectivityVersion"] = 1L });
        Assert.Null(await _things.GetAsync(name, None));

        await _things.CreateAsync(name, new CreateThingRequest(), None);

        Assert.Equal(new ThingConnectivity(true, 1234, null), (await _things.GetAsync(name, None))!.Connectivity);
    }

    [Fact]
    public async Task UpdateAsync_merge_addsChangesAndRemovesWithEmptyValue_andBumpsVersion()
    {
        var name = Name("thing");
        await _things.CreateAsync(name, new CreateThingRequest { Attributes = Attrs(("a", "1"), ("b", "2")) }, None);

        var updated = await _things.UpdateAsync(name, new UpdateThingRequest { Attributes = Attrs(("b", ""), ("c", "3"), ("a", "9")), Merge = true }, None);

        Assert.Equal(Attrs(("a", "9"), ("c", "3")), updated.Attributes);
        Assert.Equal(2, updated.Version);
        Assert.Equal(Attrs(("a", "9"), ("c", "3")), (await _things.GetAsync(name, None))!.Attributes);
    }

    [Fact]
    public async Task UpdateAsync_replace_replacesAllAttributes()
    {
        var name = Name("thing");
        await _things.CreateAsync(name, new CreateThingRequest { Attributes = Attrs(("a", "1"), ("b", "2")) }, None);

        var updated = await _things.UpdateAsync(name, new UpdateThingRequest { Attributes = Attrs(("c", "3"), ("d", "")) }, None);

        Assert.Equal(Attrs(("c", "3")), updated.Attributes);
    }

    [Fact]
    public async Task UpdateAsync_withoutAttributes_keepsThemAndChangesType()
    {
        var name = Name("thing");
        var type = await TypeAsync();
        await _things.CreateAsync(name, new CreateThingRequest { Attributes = Attrs(("a", "1")) }, None);

        await _things.UpdateAsync(name, new UpdateThingRequest { ThingTypeName = type }, None);
        var typed = await _things.GetAsync(name, None);
        Assert.Equal(type, typed!.ThingTypeName);
        Assert.Equal(Attrs(("a", "1")), typed.Attributes);

        await _things.UpdateAsync(name, new UpdateThingRequest { RemoveThingType = true }, None);
        var untyped = await _things.GetAsync(name, None);
        Assert.Null(untyped!.ThingTypeName);
        Assert.Equal(3, untyped.Version);
    }

    [Fact]
    public async Task UpdateAsync_removingTypeOfThingWithMoreThan3Attributes_isInvalidRequestAndChangesNothing()
    {
        var name = Name("thing");
        var type = await TypeAsync();
        await _things.CreateAsync(name, new CreateThingRequest { ThingTypeName = type, Attributes = Attrs(("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")) }, None);
        var before = await _things.GetAsync(name, None);

        Assert.Equal(RegistryError.InvalidRequest, (await RefusedAsync(() => _things.UpdateAsync(name, new UpdateThingRequest { RemoveThingType = true }, None))).Error);

        Assert.Equal(before, await _things.GetAsync(name, None), ThingComparer.Instance);
    }

    [Fact]
    public async Task UpdateAsync_staleExpectedVersion_isVersionConflictAndChangesNothing()
    {
        var name = Name("thing");
        await _things.CreateAsync(name, new CreateThingRequest { Attributes = Attrs(("a", "1")) }, None);
        await _things.UpdateAsync(name, new UpdateThingRequest { Attributes = Attrs(("a", "2")), ExpectedVersion = 1 }, None);

        var ex = await RefusedAsync(() => _things.UpdateAsync(name, new UpdateThingRequest { Attributes = Attrs(("a", "3")), ExpectedVersion = 1 }, None));

        Assert.Equal(RegistryError.VersionConflict, ex.Error);
        var thing = await _things.GetAsync(name, None);
        Assert.Equal("2", thing!.Attributes["a"]);
        Assert.Equal(2, thing.Version);
    }

    [Fact]
    public async Task UpdateAsync_concurrentMerges_loseNothing()
    {
        var name = Name("thing");
        var type = await TypeAsync();
        await _things.CreateAsync(name, new CreateThingRequest { ThingTypeName = type }, None);

        await Task.WhenAll(Enumerable.Range(0, 10).Select(i => Task.Run(() => _things.UpdateAsync(name, new UpdateThingRequest { Attributes = Attrs(($"k{i}", "v")), Merge = true }, None))));

        var thing = await _things.GetAsync(name, None);
        Assert.Equal(10, thing!.Attributes.Count);
        Assert.Equal(11, thing.Version);
    }

    [Fact]
    public async Task UpdateAsync_unknownThing_isResourceNotFound_deprecatedOrUnknownType_isRefused()
    {
        Assert.Equal(RegistryError.ResourceNotFound, (await RefusedAsync(() => _things.UpdateAsync(Name("thing"), new UpdateThingRequest(), None))).Error);
        var name = Name("thing");
        await _things.CreateAsync(name, new CreateThingRequest(), None);
        var deprecated = await TypeAsync();
        await _types.DeprecateAsync(deprecated, undo: false, None);

        Assert.Equal(RegistryError.ResourceNotFound, (await RefusedAsync(() => _things.UpdateAsync(name, new UpdateThingRequest { ThingTypeName = Name("nope") }, None))).Error);
        Assert.Equal(RegistryError.InvalidRequest, (await RefusedAsync(() => _things.UpdateAsync(name, new UpdateThingRequest { ThingTypeName = deprecated }, None))).Error);
        Assert.Equal(RegistryError.InvalidRequest, (await RefusedAsync(() => _things.UpdateAsync(name, new UpdateThingRequest { ThingTypeName = deprecated, RemoveThingType = true }, None))).Error);
        Assert.Equal(1, (await _things.GetAsync(name, None))!.Version);
    }

    [Fact]
    public async Task UpdateAsync_keepsTypeThatWasDeprecatedAfterwards()
    {
        var name = Name("thing");
        var type = await TypeAsync();
        await _things.CreateAsync(name, new CreateThingRequest { ThingTypeName = type }, None);
        await _types.DeprecateAsync(type, undo: false, None);

        var updated = await _things.UpdateAsync(name, new UpdateThingRequest { Attributes = Attrs(("a", "1")), Merge = true }, None);

        Assert.Equal(type, updated.ThingTypeName);
    }

    [Fact]
    public async Task DeleteAsync_removesTheThing_andUnknownThingSucceeds()
    {
        var name = Name("thing");
        await _things.CreateAsync(name, new CreateThingRequest(), None);

        Assert.True(await _things.DeleteAsync(name, null, None));

        Assert.Null(await _things.GetAsync(name, None));
        Assert.False(await _things.DeleteAsync(name, null, None));
    }

    [Fact]
    public async Task DeleteAsync_staleExpectedVersion_isVersionConflictAndKeepsTheThing()
    {
        var name = Name("thing");
        await _things.CreateAsync(name, new CreateThingRequest(), None);
        await _things.UpdateAsync(name, new UpdateThingRequest { Attributes = Attrs(("a", "1")) }, None);

        Assert.Equal(RegistryError.VersionConflict, (await RefusedAsync(() => _things.DeleteAsync(name, 1, None))).Error);
        Assert.NotNull(await _things.GetAsync(name, None));

        Assert.True(await _things.DeleteAsync(name, 2, None));
        Assert.Null(await _things.GetAsync(name, None));
    }

    [Fact]
    public async Task DeleteAsync_thenCreateAgain_startsAtVersion1WithANewId()
    {
        var name = Name("thing");
        var first = await _things.CreateAsync(name, new CreateThingRequest { Attributes = Attrs(("a", "1")) }, None);
        await _things.UpdateAsync(name, new UpdateThingRequest(), None);
        await _things.DeleteAsync(name, null, None);

        var second = await _things.CreateAsync(name, new CreateThingRequest(), None);

        Assert.NotEqual(first.ThingId, second.ThingId);
        var thing = await _things.GetAsync(name, None);
        Assert.Equal(1, thing!.Version);
        Assert.Empty(thing.Attributes);
    }

    [Fact]
    public async Task ListAsync_byType_pagesThroughEveryMatchingThing()
    {
        var type = await TypeAsync();
        var names = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            names.Add(Name("thing"));
            await _things.CreateAsync(names[^1], new CreateThingRequest { ThingTypeName = type, Attributes = Attrs(("i", $"{i}")) }, None);
        }
        await _things.CreateAsync(Name("thing"), new CreateThingRequest(), None);

        var all = await AllPagesAsync(token => _things.ListAsync(new ThingQuery { ThingTypeName = type, MaxResults = 2, NextToken = token }, None), 2);

        Assert.Equal(names.Order(StringComparer.Ordinal), all.Select(t => t.ThingName));
        Assert.All(all, t => Assert.Equal(type, t.ThingTypeName));
        Assert.Equal("3", all.Single(t => t.ThingName == names[3]).Attributes["i"]);
    }

    [Fact]
    public async Task ListAsync_byAttributeNameAndValue_matchesExactly()
    {
        var value = Name("v");
        var a = Name("thing");
        var b = Name("thing");
        var c = Name("thing");
        await _things.CreateAsync(a, new CreateThingRequest { Attributes = Attrs(("farm/id", value)) }, None);
        await _things.CreateAsync(b, new CreateThingRequest { Attributes = Attrs(("farm/id", value), ("x", "y")) }, None);
        await _things.CreateAsync(c, new CreateThingRequest { Attributes = Attrs(("farm/id", value + "x")) }, None);

        var all = await AllPagesAsync(token => _things.ListAsync(new ThingQuery { AttributeName = "farm/id", AttributeValue = value, MaxResults = 1, NextToken = token }, None), 1);

        Assert.Equal(new[] { a, b }.Order(StringComparer.Ordinal), all.Select(t => t.ThingName));
    }

    [Fact]
    public async Task ListAsync_byAttributeNameOnly_listsThingsHavingIt()
    {
        var attribute = Name("attr");
        var a = Name("thing");
        await _things.CreateAsync(a, new CreateThingRequest { Attributes = Attrs((attribute, "1")) }, None);
        await _things.CreateAsync(Name("thing"), new CreateThingRequest { Attributes = Attrs(("other", "1")) }, None);

        var all = await AllPagesAsync(token => _things.ListAsync(new ThingQuery { AttributeName = attribute, NextToken = token }, None), PageTokens.DefaultMaxResults);

        Assert.Equal([a], all.Select(t => t.ThingName));
    }

    [Fact]
    public async Task ListAsync_byGroupAndType_listsMatchingMembersOnly()
    {
        var groups = new ThingGroupStore(TestTables.Provider(azurite));
        var group = Name("group");
        await groups.CreateAsync(group, new CreateThingGroupRequest(), None);
        var type = await TypeAsync();
        var members = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            members.Add(Name("thing"));
            await _things.CreateAsync(members[^1], new CreateThingRequest { ThingTypeName = i < 3 ? type : null }, None);
            await groups.AddThingAsync(group, members[^1], None);
        }
        await _things.CreateAsync(Name("thing"), new CreateThingRequest { ThingTypeName = type }, None);

        var inGroup = await AllPagesAsync(token => _things.ListAsync(new ThingQuery { ThingGroupName = group, MaxResults = 3, NextToken = token }, None), 3);
        var typedInGroup = await AllPagesAsync(token => _things.ListAsync(new ThingQuery { ThingGroupName = group, ThingTypeName = type, MaxResults = 2, NextToken = token }, None), 2);

        Assert.Equal(members.Order(StringComparer.Ordinal), inGroup.Select(t => t.ThingName));
        Assert.Equal(members.Take(3).Order(StringComparer.Ordinal), typedInGroup.Select(t => t.ThingName));
        Assert.Equal(RegistryError.ResourceNotFound, (await RefusedAsync(() => _things.ListAsync(new ThingQuery { ThingGroupName = Name("nope") }, None))).Error);
    }

    [Fact]
    public async Task ListAsync_withoutFilters_includesNewThingsButNotUnregisteredEntities()
    {
        var name = Name("thing");
        await _things.CreateAsync(name, new CreateThingRequest(), None);
        var bare = Name("thing");
        await new TableClient(azurite.ConnectionString, TableNames.Things).AddEntityAsync(new TableEntity(bare, "") { ["Connected"] = true });

        var all = await AllPagesAsync(token => _things.ListAsync(new ThingQuery { MaxResults = 250, NextToken = token }, None), 250);

        Assert.Contains(name, all.Select(t => t.ThingName));
        Assert.DoesNotContain(bare, all.Select(t => t.ThingName));
    }

    [Fact]
    public async Task ListAsync_tokenFromOtherFilters_orGarbage_isInvalidRequest()
    {
        var type = await TypeAsync();
        for (var i = 0; i < 3; i++)
        {
            await _things.CreateAsync(Name("thing"), new CreateThingRequest { ThingTypeName = type }, None);
        }
        var page = await _things.ListAsync(new ThingQuery { ThingTypeName = type, MaxResults = 1 }, None);
        Assert.NotNull(page.NextToken);

        Assert.Equal(RegistryError.InvalidRequest, (await RefusedAsync(() => _things.ListAsync(new ThingQuery { ThingTypeName = Name("other"), NextToken = page.NextToken }, None))).Error);
        Assert.Equal(RegistryError.InvalidRequest, (await RefusedAsync(() => _things.ListAsync(new ThingQuery { NextToken = "garbage!" }, None))).Error);
        Assert.Equal(RegistryError.InvalidRequest, (await RefusedAsync(() => _things.ListAsync(new ThingQuery { MaxResults = 0 }, None))).Error);
        Assert.Equal(RegistryError.InvalidRequest, (await RefusedAsync(() => _things.ListAsync(new ThingQuery { MaxResults = 251 }, None))).Error);
        Assert.Equal(RegistryError.InvalidRequest, (await RefusedAsync(() => _things.ListAsync(new ThingQuery { AttributeValue = "x" }, None))).Error);
    }

    /// <summary>Compares things by value (attributes by content).</summary>
    sealed class ThingComparer : IEqualityComparer<Thing?>
    {
        public static readonly ThingComparer Instance = new();

        public bool Equals(Thing? x, Thing? y) => x is null || y is null ? x is null && y is null
            : x with { Attributes = y.Attributes } == y && x.Attributes.Count == y.Attributes.Count && x.Attributes.All(a => y.Attributes.TryGetValue(a.Key, out var v) && v == a.Value);

        public int GetHashCode(Thing? obj) => obj?.ThingName.GetHashCode(StringComparison.Ordinal) ?? 0;
    }
}
