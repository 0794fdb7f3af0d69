using IoTServerless.Core.Registry;
using IoTServerless.Core.Tests.Storage;
using IoTServerless.Testing;
using static IoTServerless.Core.Tests.Registry.RegistryTestData;

namespace IoTServerless.Core.Tests.Registry;

/// <summary>Thing types in real Table storage (Azurite).</summary>
[Collection(AzuriteCollection.Name)]
public sealed class ThingTypeStoreTests(AzuriteFixture azurite)
{
    static readonly CancellationToken None = CancellationToken.None;
    readonly ThingTypeStore _types = new(TestTables.Provider(azurite));
    readonly ThingStore _things = new(TestTables.Provider(azurite));

    [Fact]
    public async Task CreateAsync_newType_isDescribed()
    {
        var name = Name("type");

        var created = await _types.CreateAsync(name, new CreateThingTypeRequest { ThingTypeDescription = "Soil sensor, v2", SearchableAttributes = ["farm", "row"] }, None);

        var type = await _types.GetAsync(name, None);
        Assert.NotNull(type);
        Assert.Equal(created.ThingTypeId, type.ThingTypeId);
        Assert.Equal(RegistryArns.Default.ThingType(name), type.ThingTypeArn);
        Assert.Equal("Soil sensor, v2", type.ThingTypeProperties.ThingTypeDescription);
        Assert.Equal(["farm", "row"], type.ThingTypeProperties.SearchableAttributes);
        Assert.False(type.ThingTypeMetadata.Deprecated);
        Assert.Null(type.ThingTypeMetadata.DeprecationDate);
        Assert.True(type.ThingTypeMetadata.CreationDate > 1_700_000_000);
    }

    [Fact]
    public async Task CreateAsync_identicalAgain_isIdempotent_differentIsResourceAlreadyExists()
    {
        var name = Name("type");
        var first = await _types.CreateAsync(name, new CreateThingTypeRequest { ThingTypeDescription = "d" }, None);

        Assert.Equal(first, await _types.CreateAsync(name, new CreateThingTypeRequest { ThingTypeDescription = "d" }, None));
        var ex = await Assert.ThrowsAsync<RegistryException>(() => _types.CreateAsync(name, new CreateThingTypeRequest { ThingTypeDescription = "other" }, None));

        Assert.Equal(RegistryError.ResourceAlreadyExists, ex.Error);
        Assert.Equal("d", (await _types.GetAsync(name, None))!.ThingTypeProperties.ThingTypeDescription);
    }

    [Fact]
    public async Task CreateAsync_invalidInput_isInvalidRequestAndStoresNothing()
    {
        var name = Name("type");
        Assert.Equal(RegistryError.InvalidRequest, (await Assert.ThrowsAsync<RegistryException>(() => _types.CreateAsync("bad name", new CreateThingTypeRequest(), None))).Error);
        var tooMany = await Assert.ThrowsAsync<RegistryException>(() => _types.CreateAsync(name, new CreateThingTypeRequest { SearchableAttributes = ["a", "b", "c", "d"] }, None));
        Assert.Contains("searchableAttributes", tooMany.Message);
        var badAttribute = await Assert.ThrowsAsync<RegistryException>(() => _types.CreateAsync(name, new CreateThingTypeRequest { SearchableAttributes = ["a b"] }, None));
        Assert.Contains("'a b'", badAttribute.Message);
        var badDescription = await Assert.ThrowsAsync<RegistryException>(() => _types.CreateAsync(name, new CreateThingTypeRequest { ThingTypeDescription = new string('d', 2029) }, None));
        Assert.Contains("thingTypeDescription", badDescription.Message);

        Assert.Null(await _types.GetAsync(name, None));
    }

    [Fact]
    public async Task DeprecateAsync_andUndo_toggleDeprecationAndWhetherThingsMayUseIt()
    {
        var name = Name("type");
        await _types.CreateAsync(name, new CreateThingTypeRequest(), None);

        await _types.DeprecateAsync(name, undo: false, None);
        var deprecated = await _types.GetAsync(name, None);
        Assert.True(deprecated!.ThingTypeMetadata.Deprecated);
        Assert.NotNull(deprecated.ThingTypeMetadata.DeprecationDate);
        await Assert.ThrowsAsync<RegistryException>(() => _things.CreateAsync(Name("thing"), new CreateThingRequest { ThingTypeName = name }, None));

        await _types.DeprecateAsync(name, undo: true, None);
        var restored = await _types.GetAsync(name, None);
        Assert.False(restored!.ThingTypeMetadata.Deprecated);
        Assert.Null(restored.ThingTypeMetadata.DeprecationDate);
        await _things.CreateAsync(Name("thing"), new CreateThingRequest { ThingTypeName = name }, None);
    }

    [Fact]
    public async Task DeprecateAsync_unknownType_isResourceNotFound()
        => Assert.Equal(RegistryError.ResourceNotFound, (await Assert.ThrowsAsync<RegistryException>(() => _types.DeprecateAsync(Name("type"), false, None))).Error);

    [Fact]
    public async Task DeleteAsync_onlyWhenDeprecatedAndUnused()
    {
        var name = Name("type");
        await _types.CreateAsync(name, new CreateThingTypeRequest(), None);
        var thing = Name("thing");
        await _things.CreateAsync(thing, new CreateThingRequest { ThingTypeName = name }, None);

        var notDeprecated = await Assert.ThrowsAsync<RegistryException>(() => _types.DeleteAsync(name, None));
        Assert.Equal(RegistryError.DeleteConflict, notDeprecated.Error);
        Assert.Contains("not deprecated", notDeprecated.Message);

        await _types.DeprecateAsync(name, undo: false, None);
        var inUse = await Assert.ThrowsAsync<RegistryException>(() => _types.DeleteAsync(name, None));
        Assert.Equal(RegistryError.DeleteConflict, inUse.Error);
        Assert.Contains("used by things", inUse.Message);
        Assert.NotNull(await _types.GetAsync(name, None));

        await _things.UpdateAsync(thing, new UpdateThingRequest { RemoveThingType = true }, None);
        await _types.DeleteAsync(name, None);
        Assert.Null(await _types.GetAsync(name, None));
        Assert.Equal(RegistryError.ResourceNotFound, (await Assert.ThrowsAsync<RegistryException>(() => _types.DeleteAsync(name, None))).Error);
    }

    [Fact]
    public async Task ListAsync_pagesThroughEveryType()
    {
        var names = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            names.Add(Name("type"));
            await _types.CreateAsync(names[^1], new CreateThingTypeRequest(), None);
        }

        var all = await AllPagesAsync(token => _types.ListAsync(2, token, None), 2);

        Assert.Subset(all.Select(t => t.ThingTypeName).ToHashSet(), names.ToHashSet());
        Assert.Equal(all.Count, all.Select(t => t.ThingTypeName).Distinct().Count());
    }
}
