using IoTServerless.Core.Registry;
using IoTServerless.Core.Tests.Storage;
using IoTServerless.Testing;
using static IoTServerless.Core.Tests.Registry.RegistryTestData;

namespace IoTServerless.Core.Tests.Registry;

/// <summary>Thing groups, nesting, membership and ancestry in real Table storage (Azurite).</summary>
[Collection(AzuriteCollection.Name)]
public sealed class ThingGroupStoreTests(AzuriteFixture azurite)
{
    static readonly CancellationToken None = CancellationToken.None;
    readonly ThingGroupStore _groups = new(TestTables.Provider(azurite));
    readonly ThingStore _things = new(TestTables.Provider(azurite));

    async Task<string> GroupAsync(string? parent = null)
    {
        var name = Name("group");
        await _groups.CreateAsync(name, new CreateThingGroupRequest { ParentGroupName = parent }, None);
        return name;
    }

    async Task<string> ThingAsync()
    {
        var name = Name("thing");
        await _things.CreateAsync(name, new CreateThingRequest(), None);
        return name;
    }

    /// <summary>A chain root → … of <paramref name="depth"/> groups; the deepest last.</summary>
    async Task<List<string>> ChainAsync(int depth)
    {
        var chain = new List<string>();
        for (var i = 0; i < depth; i++)
        {
            chain.Add(await GroupAsync(chain.Count == 0 ? null : chain[^1]));
        }
        return chain;
    }

    static async Task<RegistryException> RefusedAsync(Func<Task> action) => await Assert.ThrowsAsync<RegistryException>(action);

    [Fact]
    public async Task CreateAsync_nestedGroup_isDescribedWithParentAndRootToParentPath()
    {
        var chain = await ChainAsync(2);
        var name = Name("group");

        var created = await _groups.CreateAsync(name, new CreateThingGroupRequest { ParentGroupName = chain[1], ThingGroupDescription = "pumps", Attributes = Attrs(("zone", "north")) }, None);

        var group = await _groups.GetAsync(name, None);
        Assert.NotNull(group);
        Assert.Equal(created.ThingGroupId, group.ThingGroupId);
        Assert.Equal(RegistryArns.Default.ThingGroup(name), group.ThingGroupArn);
        Assert.Equal(1, group.Version);
        Assert.Equal("pumps", group.ThingGroupProperties.ThingGroupDescription);
        Assert.Equal(Attrs(("zone", "north")), group.ThingGroupProperties.AttributePayload.Attributes);
        Assert.Equal(chain[1], group.ThingGroupMetadata.ParentGroupName);
        Assert.Equal(chain.Select(RegistryArns.Default.Group), group.ThingGroupMetadata.RootToParentThingGroups);
    }

    [Fact]
    public async Task CreateAsync_identicalAgain_isIdempotent_differentIsResourceAlreadyExists()
    {
        var parent = await GroupAsync();
        var name = Name("group");
        var first = await _groups.CreateAsync(name, new CreateThingGroupRequest { ParentGroupName = parent }, None);

        Assert.Equal(first, await _groups.CreateAsync(name, new CreateThingGroupRequest { ParentGroupName = parent }, None));
        Assert.Equal(RegistryError.ResourceAlreadyExists, (await RefusedAsync(() => _groups.CreateAsync(name, new CreateThingGroupRequest(), None))).Error);
        Assert.Equal(parent, (await _groups.GetAsync(name, None))!.ThingGroupMetadata.ParentGroupName);
    }

    [Fact]
    public async Task CreateAsync_depth7_isAllowed_depth8_isInvalidRequest()
    {
        var chain = await ChainAsync(7);
        Assert.Equal(6, (await _groups.GetAsync(chain[^1], None))!.ThingGroupMetadata.RootToParentThingGroups.Count);
        var tooDeep = Name("group");

        var ex = await RefusedAsync(() => _groups.CreateAsync(tooDeep, new CreateThingGroupRequest { ParentGroupName = chain[^1] }, None));

        Assert.Equal(RegistryError.InvalidRequest, ex.Error);
        Assert.Contains("at most 7", ex.Message);
        Assert.Null(await _groups.GetAsync(tooDeep, None));
    }

    [Fact]
    public async Task CreateAsync_ownParent_isInvalidRequest_unknownParent_isResourceNotFound()
    {
        var name = Name("group");

        Assert.Equal(RegistryError.InvalidRequest, (await RefusedAsync(() => _groups.CreateAsync(name, new CreateThingGroupRequest { ParentGroupName = name }, None))).Error);
        Assert.Equal(RegistryError.ResourceNotFound, (await RefusedAsync(() => _groups.CreateAsync(name, new CreateThingGroupRequest { ParentGroupName = Name("nope") }, None))).Error);
        Assert.Equal(RegistryError.InvalidRequest, (await RefusedAsync(() => _groups.CreateAsync(name, new CreateThingGroupRequest { ParentGroupName = "bad name" }, None))).Error);

        Assert.Null(await _groups.GetAsync(name, None));
    }

    [Fact]
    public async Task CreateAsync_existingGroupAsItsOwnAncestor_cannotFormACycle()
    {
        // Parents are fixed at creation and must exist first, so a cycle would need re-creating a
        // group under its own descendant: that is a different parent, refused as already existing.
        var chain = await ChainAsync(3);

        var ex = await RefusedAsync(() => _groups.CreateAsync(chain[0], new CreateThingGroupRequest { ParentGroupName = chain[2] }, None));

        Assert.Equal(RegistryError.ResourceAlreadyExists, ex.Error);
        Assert.Null((await _groups.GetAsync(chain[0], None))!.ThingGroupMetadata.ParentGroupName);
    }

    [Fact]
    public async Task ListAsync_childrenOrAllDescendants_pagesThroughThem()
    {
        var root = await GroupAsync();
        var a = await GroupAsync(root);
        var b = await GroupAsync(root);
        var a1 = await GroupAsync(a);
        var a11 = await GroupAsync(a1);

        var children = await AllPagesAsync(token => _groups.ListAsync(root, recursive: false, 1, token, None), 1);
        var descendants = await AllPagesAsync(token => _groups.ListAsync(root, recursive: true, 2, token, None), 2);
        var underA = await AllPagesAsync(token => _groups.ListAsync(a, recursive: true, 2, token, None), 2);

        Assert.Equal(new[] { a, b }.Order(StringComparer.Ordinal), children.Select(g => g.GroupName));
        Assert.Equal(new[] { a, b, a1, a11 }.Order(StringComparer.Ordinal), descendants.Select(g => g.GroupName));
        Assert.Equal(new[] { a1, a11 }.Order(StringComparer.Ordinal), underA.Select(g => g.GroupName));
        var everything = await AllPagesAsync(token => _groups.ListAsync(null, false, 250, token, None), 250);
        Assert.Subset(everything.Select(g => g.GroupName).ToHashSet(), new[] { root, a, b, a1, a11 }.ToHashSet());
        Assert.Equal(RegistryError.ResourceNotFound, (await RefusedAsync(() => _groups.ListAsync(Name("nope"), false, null, null, None))).Error);
    }

    [Fact]
    public async Task DeleteAsync_groupWithChildren_isDeleteConflict_leafIsDeletedWithItsMemberships()
    {
        var parent = await GroupAsync();
        var child = await GroupAsync(parent);
        var thing = await ThingAsync();
        await _groups.AddThingAsync(child, thing, None);

        Assert.Equal(RegistryError.DeleteConflict, (await RefusedAsync(() => _groups.DeleteAsync(parent, None))).Error);
        Assert.NotNull(await _groups.GetAsync(parent, None));

        Assert.True(await _groups.DeleteAsync(child, None));
        Assert.Null(await _groups.GetAsync(child, None));
        Assert.Empty(await _groups.GetGroupAncestryForThingAsync(thing, None));
        Assert.Empty((await _groups.ListGroupsForThingAsync(thing, null, null, None)).Items);

        Assert.True(await _groups.DeleteAsync(parent, None));
        Assert.False(await _groups.DeleteAsync(parent, None));
    }

    [Fact]
    public async Task AddThingAsync_isIdempotent_andListedBothWays()
    {
        var group = await GroupAsync();
        var things = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            things.Add(await ThingAsync());
            await _groups.AddThingAsync(group, things[^1], None);
        }
        await _groups.AddThingAsync(group, things[0], None);

        var members = await AllPagesAsync(token => _groups.ListThingsAsync(group, 2, token, None), 2);
        var groupsOfFirst = await AllPagesAsync(token => _groups.ListGroupsForThingAsync(things[0], 1, token, None), 1);

        Assert.Equal(things.Order(StringComparer.Ordinal), members);
        Assert.Equal([RegistryArns.Default.Group(group)], groupsOfFirst);
    }

    [Fact]
    public async Task AddThingAsync_unknownThingOrGroup_isResourceNotFound()
    {
        var group = await GroupAsync();
        var thing = await ThingAsync();

        Assert.Equal(RegistryError.ResourceNotFound, (await RefusedAsync(() => _groups.AddThingAsync(group, Name("nope"), None))).Error);
        Assert.Equal(RegistryError.ResourceNotFound, (await RefusedAsync(() => _groups.AddThingAsync(Name("nope"), thing, None))).Error);
        Assert.Equal(RegistryError.InvalidRequest, (await RefusedAsync(() => _groups.AddThingAsync(group, "bad name", None))).Error);

        Assert.Empty((await _groups.ListThingsAsync(group, null, null, None)).Items);
    }

    [Fact]
    public async Task AddThingAsync_eleventhGroup_isLimitExceededAndNotAdded()
    {
        var thing = await ThingAsync();
        for (var i = 0; i < ThingGroupStore.MaxGroupsPerThing; i++)
        {
            await _groups.AddThingAsync(await GroupAsync(), thing, None);
        }
        var eleventh = await GroupAsync();

        Assert.Equal(RegistryError.LimitExceeded, (await RefusedAsync(() => _groups.AddThingAsync(eleventh, thing, None))).Error);

        Assert.Empty((await _groups.ListThingsAsync(eleventh, null, null, None)).Items);
        Assert.Equal(10, (await _groups.GetGroupAncestryForThingAsync(thing, None)).Count);
    }

    [Fact]
    public async Task AddThingAsync_concurrentAddsBeyondTheLimit_neverExceedIt()
    {
        var thing = await ThingAsync();
        var groups = new List<string>();
        for (var i = 0; i < 14; i++)
        {
            groups.Add(await GroupAsync());
        }

        var added = new System.Collections.Concurrent.ConcurrentBag<string>();
        await Task.WhenAll(groups.Select(g => Task.Run(async () =>
        {
            try
            {
                await _groups.AddThingAsync(g, thing, None);
                added.Add(g);
            }
            catch (RegistryException ex) when (ex.Error == RegistryError.LimitExceeded)
            {
            }
        })));

        // Racing adds may all back out, but the limit holds and exactly the successful ones remain.
        var memberships = (await _groups.ListGroupsForThingAsync(thing, null, null, None)).Items.Select(g => g.GroupName).ToList();
        Assert.True(memberships.Count <= ThingGroupStore.MaxGroupsPerThing, $"{memberships.Count} memberships");
        Assert.Equal(added.Order(StringComparer.Ordinal), memberships.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task RemoveThingAsync_removesMembership_andNonMemberSucceeds()
    {
        var group = await GroupAsync();
        var thing = await ThingAsync();
        await _groups.AddThingAsync(group, thing, None);

        await _groups.RemoveThingAsync(group, thing, None);
        await _groups.RemoveThingAsync(group, thing, None);

        Assert.Empty((await _groups.ListThingsAsync(group, null, null, None)).Items);
        Assert.Empty(await _groups.GetGroupAncestryForThingAsync(thing, None));
        Assert.Equal(RegistryError.ResourceNotFound, (await RefusedAsync(() => _groups.RemoveThingAsync(Name("nope"), thing, None))).Error);
    }

    [Fact]
    public async Task GetGroupAncestryForThingAsync_returnsGroupsAndAllAncestors_rootFirstWithoutDuplicates()
    {
        var chain = await ChainAsync(3);          // r → m → leaf
        var sibling = await GroupAsync(chain[0]); // r → sibling
        var other = await GroupAsync();
        var thing = await ThingAsync();
        await _groups.AddThingAsync(chain[2], thing, None);
        await _groups.AddThingAsync(sibling, thing, None);
        await _groups.AddThingAsync(other, thing, None);

        var ancestry = (await _groups.GetGroupAncestryForThingAsync(thing, None)).ToList();

        Assert.Equal(new[] { chain[0], chain[1], chain[2], sibling, other }.Order(StringComparer.Ordinal), ancestry.Order(StringComparer.Ordinal));
        Assert.Equal(ancestry.Count, ancestry.Distinct().Count());
        Assert.True(ancestry.IndexOf(chain[0]) < ancestry.IndexOf(chain[1]) && ancestry.IndexOf(chain[1]) < ancestry.IndexOf(chain[2]));
        Assert.True(ancestry.IndexOf(chain[0]) < ancestry.IndexOf(sibling));
        Assert.Empty(await _groups.GetGroupAncestryForThingAsync(Name("nope"), None));
    }

    [Fact]
    public async Task DeletingAThing_removesItsMemberships_soANewThingOfTheSameNameInheritsNothing()
    {
        var group = await GroupAsync();
        var thing = await ThingAsync();
        await _groups.AddThingAsync(group, thing, None);

        await _things.DeleteAsync(thing, null, None);
        Assert.Empty((await _groups.ListThingsAsync(group, null, null, None)).Items);
        await _things.CreateAsync(thing, new CreateThingRequest(), None);

        Assert.Empty(await _groups.GetGroupAncestryForThingAsync(thing, None));
    }
}
