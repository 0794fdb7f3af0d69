using System.Net;
using IoTServerless.Testing;

namespace IoTServerless.Functions.Tests.Registry;

/// <summary>The thing groups and membership API over real HTTP (standalone app) on real Table storage (Azurite).</summary>
[Collection(AzuriteCollection.Name)]
public sealed class ThingGroupsFunctionsTests(AzuriteFixture azurite) : RegistryApi(azurite)
{
    static readonly HttpMethod Put = HttpMethod.Put;

    async Task<string> GroupAsync(string? parent = null)
    {
        var name = Name("group");
        await OkAsync(HttpMethod.Post, $"api/thing-groups/{name}", parent is null ? "{}" : $$"""{"parentGroupName":"{{parent}}"}""");
        return name;
    }

    async Task<string> ThingAsync()
    {
        var name = Name("thing");
        await OkAsync(HttpMethod.Post, $"api/things/{name}", "{}");
        return name;
    }

    static string Membership(string group, string thing) => $$"""{"thingGroupName":"{{group}}","thingName":"{{thing}}"}""";

    [Fact]
    public async Task CreateNested_describeShowsParentAndRootToParentPath()
    {
        var root = await GroupAsync();
        var mid = await GroupAsync(root);
        var name = Name("group");

        var created = await OkAsync(HttpMethod.Post, $"api/thing-groups/{name}",
            """{"parentGroupName":"MID","thingGroupProperties":{"thingGroupDescription":"north pumps","attributePayload":{"attributes":{"zone":"north"}}}}""".Replace("MID", mid, StringComparison.Ordinal));

        Assert.Equal(name, created.GetProperty("thingGroupName").GetString());
        Assert.EndsWith($":thinggroup/{name}", created.GetProperty("thingGroupArn").GetString());
        var group = await OkAsync(HttpMethod.Get, $"api/thing-groups/{name}");
        Assert.Equal(created.GetProperty("thingGroupId").GetString(), group.GetProperty("thingGroupId").GetString());
        Assert.Equal(1, group.GetProperty("version").GetInt64());
        Assert.Equal("north pumps", group.GetProperty("thingGroupProperties").GetProperty("thingGroupDescription").GetString());
        Assert.Equal("north", group.GetProperty("thingGroupProperties").GetProperty("attributePayload").GetProperty("attributes").GetProperty("zone").GetString());
        var metadata = group.GetProperty("thingGroupMetadata");
        Assert.Equal(mid, metadata.GetProperty("parentGroupName").GetString());
        var path = metadata.GetProperty("rootToParentThingGroups").EnumerateArray().ToList();
        Assert.Equal([root, mid], path.Select(g => g.GetProperty("groupName").GetString()));
        Assert.EndsWith($":thinggroup/{root}", path[0].GetProperty("groupArn").GetString());
    }

    [Fact]
    public async Task List_childrenAndRecursive_page()
    {
        var root = await GroupAsync();
        var a = await GroupAsync(root);
        var b = await GroupAsync(root);
        var a1 = await GroupAsync(a);

        var children = await AllPagesAsync($"api/thing-groups?parentGroup={root}", "thingGroups", 1);
        var all = await AllPagesAsync($"api/thing-groups?parentGroup={root}&recursive=true", "thingGroups", 2);

        Assert.Equal(new[] { a, b }.Order(StringComparer.Ordinal), children.Select(g => g.GetProperty("groupName").GetString()));
        Assert.Equal(new[] { a, b, a1 }.Order(StringComparer.Ordinal), all.Select(g => g.GetProperty("groupName").GetString()));
        Assert.EndsWith($":thinggroup/{a1}", all.Single(g => g.GetProperty("groupName").GetString() == a1).GetProperty("groupArn").GetString());
        await ProblemAsync(HttpMethod.Get, "api/thing-groups?recursive=maybe", null, HttpStatusCode.BadRequest, "InvalidRequestException", "recursive");
        await ProblemAsync(HttpMethod.Get, $"api/thing-groups?parentGroup={Name("group")}", null, HttpStatusCode.NotFound, "ResourceNotFoundException");
    }

    [Fact]
    public async Task Membership_addListRemove()
    {
        var group = await GroupAsync();
        var things = new[] { await ThingAsync(), await ThingAsync(), await ThingAsync() };
        foreach (var thing in things)
        {
            await OkAsync(Put, "api/thing-groups/addThingToThingGroup", Membership(group, thing));
        }
        await OkAsync(Put, "api/thing-groups/addThingToThingGroup", Membership(group, things[0]));

        var members = await AllPagesAsync($"api/thing-groups/{group}/things", "things", 2);
        Assert.Equal(things.Order(StringComparer.Ordinal), members.Select(t => t.GetString()));
        var groupsOfThing = await AllPagesAsync($"api/things/{things[0]}/thing-groups", "thingGroups", 1);
        Assert.Equal([group], groupsOfThing.Select(g => g.GetProperty("groupName").GetString()));
        var listedByGroup = await AllPagesAsync($"api/things?thingGroupName={group}", "things", 2);
        Assert.Equal(things.Order(StringComparer.Ordinal), listedByGroup.Select(t => t.GetProperty("thingName").GetString()));

        await OkAsync(Put, "api/thing-groups/removeThingFromThingGroup", Membership(group, things[0]));
        Assert.Empty(await AllPagesAsync($"api/things/{things[0]}/thing-groups", "thingGroups", 10));
        Assert.Equal(2, (await AllPagesAsync($"api/thing-groups/{group}/things", "things", 10)).Count);
    }

    [Fact]
    public async Task Membership_refusals_changeNothing()
    {
        var group = await GroupAsync();
        var thing = await ThingAsync();

        await ProblemAsync(Put, "api/thing-groups/addThingToThingGroup", Membership(group, Name("thing")), HttpStatusCode.NotFound, "ResourceNotFoundException", "Thing");
        await ProblemAsync(Put, "api/thing-groups/addThingToThingGroup", Membership(Name("group"), thing), HttpStatusCode.NotFound, "ResourceNotFoundException", "Thing group");
        await ProblemAsync(Put, "api/thing-groups/addThingToThingGroup", $$"""{"thingGroupName":"{{group}}"}""", HttpStatusCode.BadRequest, "InvalidRequestException", "thingName is required");
        await ProblemAsync(Put, "api/thing-groups/addThingToThingGroup", $$"""{"thingGroupName":"{{group}}","thingName":"bad name"}""", HttpStatusCode.BadRequest, "InvalidRequestException", "thing name");
        await ProblemAsync(Put, "api/thing-groups/addThingToThingGroup", "nope", HttpStatusCode.BadRequest, "InvalidRequestException", "JSON");
        await ProblemAsync(Put, "api/thing-groups/removeThingFromThingGroup", $$"""{"thingName":"{{thing}}"}""", HttpStatusCode.BadRequest, "InvalidRequestException", "thingGroupName is required");
        await ProblemAsync(HttpMethod.Get, $"api/thing-groups/{Name("group")}/things", null, HttpStatusCode.NotFound, "ResourceNotFoundException");
        await ProblemAsync(HttpMethod.Get, $"api/things/{Name("thing")}/thing-groups", null, HttpStatusCode.NotFound, "ResourceNotFoundException");

        Assert.Empty(await AllPagesAsync($"api/thing-groups/{group}/things", "things", 10));
        Assert.Empty(await AllPagesAsync($"api/things/{thing}/thing-groups", "thingGroups", 10));
    }

    [Fact]
    public async Task Membership_eleventhGroup_is410LimitExceeded()
    {
        var thing = await ThingAsync();
        for (var i = 0; i < 10; i++)
        {
            await OkAsync(Put, "api/thing-groups/addThingToThingGroup", Membership(await GroupAsync(), thing));
        }

        await ProblemAsync(Put, "api/thing-groups/addThingToThingGroup", Membership(await GroupAsync(), thing), HttpStatusCode.Gone, "LimitExceededException", "10");

        Assert.Equal(10, (await AllPagesAsync($"api/things/{thing}/thing-groups", "thingGroups", 250)).Count);
    }

    [Theory]
    [InlineData("""{"parentGroupName":7}""", "parentGroupName must be a string")]
    [InlineData("""{"parentGroupName":"bad name"}""", "parentGroupName")]
    [InlineData("""{"thingGroupProperties":"x"}""", "thingGroupProperties must be an object")]
    [InlineData("""{"thingGroupProperties":{"attributePayload":{"attributes":{"k":["v"]}}}}""", "thingGroupProperties.attributePayload.attributes.k must be a string")]
    [InlineData("""{"thingGroupProperties":{"thingGroupDescription":false}}""", "thingGroupDescription must be a string")]
    [InlineData("[1]", "JSON object")]
    public async Task Create_badBody_is400NamingTheProblem_andStoresNothing(string body, string detail)
    {
        var name = Name("group");

        await ProblemAsync(HttpMethod.Post, $"api/thing-groups/{name}", body, HttpStatusCode.BadRequest, "InvalidRequestException", detail);

        await ProblemAsync(HttpMethod.Get, $"api/thing-groups/{name}", null, HttpStatusCode.NotFound, "ResourceNotFoundException");
    }

    [Fact]
    public async Task Create_refusals_answer404And400And409()
    {
        var name = Name("group");
        await ProblemAsync(HttpMethod.Post, $"api/thing-groups/{name}", $$"""{"parentGroupName":"{{Name("group")}}"}""", HttpStatusCode.NotFound, "ResourceNotFoundException", "Parent");
        await ProblemAsync(HttpMethod.Post, $"api/thing-groups/{name}", $$"""{"parentGroupName":"{{name}}"}""", HttpStatusCode.BadRequest, "InvalidRequestException", "own parent");
        await ProblemAsync(HttpMethod.Post, "api/thing-groups/bad%20name", "{}", HttpStatusCode.BadRequest, "InvalidRequestException", "thing group name");
        await ProblemAsync(HttpMethod.Get, $"api/thing-groups/{name}", null, HttpStatusCode.NotFound, "ResourceNotFoundException");

        var chain = new List<string> { await GroupAsync() };
        while (chain.Count < 7)
        {
            chain.Add(await GroupAsync(chain[^1]));
        }
        await ProblemAsync(HttpMethod.Post, $"api/thing-groups/{name}", $$"""{"parentGroupName":"{{chain[^1]}}"}""", HttpStatusCode.BadRequest, "InvalidRequestException", "at most 7");
        await ProblemAsync(HttpMethod.Post, $"api/thing-groups/{chain[0]}", $$"""{"parentGroupName":"{{chain[2]}}"}""", HttpStatusCode.Conflict, "ResourceAlreadyExistsException");
        await ProblemAsync(HttpMethod.Get, $"api/thing-groups/{name}", null, HttpStatusCode.NotFound, "ResourceNotFoundException");
    }

    [Fact]
    public async Task Update_mergeAndReplace_andExpectedVersion()
    {
        var name = Name("group");
        await OkAsync(HttpMethod.Post, $"api/thing-groups/{name}",
            """{"thingGroupProperties":{"thingGroupDescription":"north","attributePayload":{"attributes":{"zone":"north","crop":"maize"}}}}""");
        var patch = new HttpMethod("PATCH");

        var merged = await OkAsync(patch, $"api/thing-groups/{name}",
            """{"thingGroupProperties":{"attributePayload":{"attributes":{"crop":"","valve":"v7"},"merge":true}},"expectedVersion":1}""");
        Assert.Equal(2, merged.GetProperty("version").GetInt64());
        var group = await OkAsync(HttpMethod.Get, $"api/thing-groups/{name}");
        Assert.Equal("north", group.GetProperty("thingGroupProperties").GetProperty("thingGroupDescription").GetString());
        Assert.Equal("""{"valve":"v7","zone":"north"}""", group.GetProperty("thingGroupProperties").GetProperty("attributePayload").GetProperty("attributes").GetRawText());

        await OkAsync(patch, $"api/thing-groups/{name}",
            """{"thingGroupProperties":{"thingGroupDescription":"south","attributePayload":{"attributes":{"zone":"south"}}}}""");
        group = await OkAsync(HttpMethod.Get, $"api/thing-groups/{name}");
        Assert.Equal(3, group.GetProperty("version").GetInt64());
        Assert.Equal("south", group.GetProperty("thingGroupProperties").GetProperty("thingGroupDescription").GetString());
        Assert.Equal("""{"zone":"south"}""", group.GetProperty("thingGroupProperties").GetProperty("attributePayload").GetProperty("attributes").GetRawText());
    }

    [Theory]
    [InlineData("""{"thingGroupProperties":{"attributePayload":{"attributes":{"zone":"x"}}},"expectedVersion":1}""", HttpStatusCode.Conflict, "VersionConflictException", "version 2")]
    [InlineData("""{"expectedVersion":2}""", HttpStatusCode.BadRequest, "InvalidRequestException", "thingGroupProperties is required")]
    [InlineData("""{"thingGroupProperties":{"attributePayload":{"attributes":{"zone":7}}}}""", HttpStatusCode.BadRequest, "InvalidRequestException", "thingGroupProperties.attributePayload.attributes.zone must be a string")]
    [InlineData("""{"thingGroupProperties":{"thingGroupDescription":"x"},"expectedVersion":-1}""", HttpStatusCode.BadRequest, "InvalidRequestException", "expectedVersion")]
    public async Task Update_refusals_changeNothing(string body, HttpStatusCode status, string type, string detail)
    {
        var name = Name("group");
        await OkAsync(HttpMethod.Post, $"api/thing-groups/{name}", """{"thingGroupProperties":{"attributePayload":{"attributes":{"zone":"north"}}}}""");
        var patch = new HttpMethod("PATCH");
        await OkAsync(patch, $"api/thing-groups/{name}", """{"thingGroupProperties":{"thingGroupDescription":"v2"}}""");

        await ProblemAsync(patch, $"api/thing-groups/{name}", body, status, type, detail);

        var group = await OkAsync(HttpMethod.Get, $"api/thing-groups/{name}");
        Assert.Equal(2, group.GetProperty("version").GetInt64());
        Assert.Equal("""{"zone":"north"}""", group.GetProperty("thingGroupProperties").GetProperty("attributePayload").GetProperty("attributes").GetRawText());
        await ProblemAsync(patch, $"api/thing-groups/{Name("group")}", """{"thingGroupProperties":{}}""", HttpStatusCode.NotFound, "ResourceNotFoundException");
    }

    [Fact]
    public async Task Delete_parentWithChildren_is409_leafIsDeleted()
    {
        var parent = await GroupAsync();
        var child = await GroupAsync(parent);
        var thing = await ThingAsync();
        await OkAsync(Put, "api/thing-groups/addThingToThingGroup", Membership(child, thing));

        await ProblemAsync(HttpMethod.Delete, $"api/thing-groups/{parent}", null, HttpStatusCode.Conflict, "DeleteConflictException", "child groups");
        await OkAsync(HttpMethod.Get, $"api/thing-groups/{parent}");

        await OkAsync(HttpMethod.Delete, $"api/thing-groups/{child}");
        await OkAsync(HttpMethod.Delete, $"api/thing-groups/{parent}");
        await ProblemAsync(HttpMethod.Get, $"api/thing-groups/{child}", null, HttpStatusCode.NotFound, "ResourceNotFoundException");
        Assert.Empty(await AllPagesAsync($"api/things/{thing}/thing-groups", "thingGroups", 10));
    }
}
