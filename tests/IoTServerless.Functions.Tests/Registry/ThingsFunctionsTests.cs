using System.Net;
using IoTServerless.Testing;

namespace IoTServerless.Functions.Tests.Registry;

/// <summary>The things API over real HTTP (standalone app) on real Table storage (Azurite).</summary>
[Collection(AzuriteCollection.Name)]
public sealed class ThingsFunctionsTests(AzuriteFixture azurite) : RegistryApi(azurite)
{
    static readonly HttpMethod Patch = HttpMethod.Patch;

    async Task<string> TypeAsync()
    {
        var type = Name("type");
        await OkAsync(HttpMethod.Post, $"api/thing-types/{type}", "{}");
        return type;
    }

    [Theory]
    [InlineData("bad%20name", HttpStatusCode.BadRequest)]
    [InlineData("has.dot", HttpStatusCode.BadRequest)]
    [InlineData("never-seen-thing", HttpStatusCode.NotFound)]
    public async Task GetThing_answersProblemDetailsForBadOrUnknownNames(string name, HttpStatusCode expected)
    {
        using var response = await Http.GetAsync($"api/things/{name}");
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task CreateThenDescribe_answerAwsShapes()
    {
        var type = await TypeAsync();
        var name = Name("thing");

        var created = await OkAsync(HttpMethod.Post, $"api/things/{name}", $$$$"""{"thingTypeName":"{{{{type}}}}","attributePayload":{"attributes":{"Farm":"A","row/no":"7"}}}""");

        Assert.Equal(name, created.GetProperty("thingName").GetString());
        Assert.EndsWith($":thing/{name}", created.GetProperty("thingArn").GetString());
        var id = created.GetProperty("thingId").GetString();
        var thing = await OkAsync(HttpMethod.Get, $"api/things/{name}");
        Assert.Equal(name, thing.GetProperty("thingName").GetString());
        Assert.Equal(name, thing.GetProperty("defaultClientId").GetString());
        Assert.Equal(id, thing.GetProperty("thingId").GetString());
        Assert.Equal(created.GetProperty("thingArn").GetString(), thing.GetProperty("thingArn").GetString());
        Assert.Equal(type, thing.GetProperty("thingTypeName").GetString());
        Assert.Equal(new Dictionary<string, string> { ["Farm"] = "A", ["row/no"] = "7" }, Attributes(thing.GetProperty("attributes")));
        Assert.Equal(1, thing.GetProperty("version").GetInt64());
        var connectivity = thing.GetProperty("connectivity");
        Assert.False(connectivity.GetProperty("connected").GetBoolean());
        Assert.Equal(0, connectivity.GetProperty("timestamp").GetInt64());
    }

    [Fact]
    public async Task Create_withoutBody_makesAnUntypedThing_andAgainIsIdempotent()
    {
        var name = Name("thing");
        using (var response = await Http.PostAsync($"api/things/{name}", null))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        var first = await OkAsync(HttpMethod.Get, $"api/things/{name}");

        var again = await OkAsync(HttpMethod.Post, $"api/things/{name}", "{}");

        Assert.False(first.TryGetProperty("thingTypeName", out _));
        Assert.Equal(first.GetProperty("thingId").GetString(), again.GetProperty("thingId").GetString());
    }

    [Fact]
    public async Task Create_existingWithDifferentAttributes_is409AndChangesNothing()
    {
        var name = Name("thing");
        await OkAsync(HttpMethod.Post, $"api/things/{name}", """{"attributePayload":{"attributes":{"a":"1"}}}""");

        await ProblemAsync(HttpMethod.Post, $"api/things/{name}", """{"attributePayload":{"attributes":{"a":"2"}}}""", HttpStatusCode.Conflict, "ResourceAlreadyExistsException", name);

        Assert.Equal("1", (await OkAsync(HttpMethod.Get, $"api/things/{name}")).GetProperty("attributes").GetProperty("a").GetString());
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[]", "JSON object")]
    [InlineData("""{"thingTypeName":5}""", "thingTypeName must be a string")]
    [InlineData("""{"thingTypeName":"bad type"}""", "thingTypeName")]
    [InlineData("""{"attributePayload":[]}""", "attributePayload must be an object")]
    [InlineData("""{"attributePayload":{"attributes":[]}}""", "attributePayload.attributes must be an object")]
    [InlineData("""{"attributePayload":{"attributes":{"a":1}}}""", "attributePayload.attributes.a must be a string")]
    [InlineData("""{"attributePayload":{"attributes":{"a b":"1"}}}""", "'a b'")]
    [InlineData("""{"attributePayload":{"attributes":{"a":"x y"}}}""", "attribute 'a'")]
    [InlineData("""{"attributePayload":{"attributes":{"a":"1","b":"2","c":"3","d":"4"}}}""", "at most 3")]
    public async Task Create_badBody_is400NamingTheProblem_andStoresNothing(string body, string detail)
    {
        var name = Name("thing");

        await ProblemAsync(HttpMethod.Post, $"api/things/{name}", body, HttpStatusCode.BadRequest, "InvalidRequestException", detail);

        await ProblemAsync(HttpMethod.Get, $"api/things/{name}", null, HttpStatusCode.NotFound, "ResourceNotFoundException");
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PATCH")]
    [InlineData("DELETE")]
    [InlineData("GET")]
    public async Task AnyMethod_badThingName_is400(string method)
    {
        await ProblemAsync(new HttpMethod(method), "api/things/bad%20name", method is "POST" or "PATCH" ? "{}" : null, HttpStatusCode.BadRequest, "InvalidRequestException", "thing name");
        await ProblemAsync(new HttpMethod(method), $"api/things/{new string('a', 129)}", method is "POST" or "PATCH" ? "{}" : null, HttpStatusCode.BadRequest, "InvalidRequestException");
    }

    [Fact]
    public async Task Create_unknownType_is404_deprecatedType_is400()
    {
        var name = Name("thing");
        await ProblemAsync(HttpMethod.Post, $"api/things/{name}", """{"thingTypeName":"no-such-type-x"}""", HttpStatusCode.NotFound, "ResourceNotFoundException", "no-such-type-x");
        var type = await TypeAsync();
        await OkAsync(HttpMethod.Post, $"api/thing-types/{type}/deprecate", "{}");

        await ProblemAsync(HttpMethod.Post, $"api/things/{name}", $$"""{"thingTypeName":"{{type}}"}""", HttpStatusCode.BadRequest, "InvalidRequestException", "deprecated");

        await ProblemAsync(HttpMethod.Get, $"api/things/{name}", null, HttpStatusCode.NotFound, "ResourceNotFoundException");
    }

    [Fact]
    public async Task Create_oversizedBody_is413()
    {
        var (status, _, _) = await SendAsync(HttpMethod.Post, $"api/things/{Name("thing")}", "{\"x\":\"" + new string('a', 70_000) + "\"}");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
    }

    [Fact]
    public async Task Update_mergeAndReplace_andExpectedVersion()
    {
        var name = Name("thing");
        await OkAsync(HttpMethod.Post, $"api/things/{name}", """{"attributePayload":{"attributes":{"a":"1","b":"2"}}}""");

        await OkAsync(Patch, $"api/things/{name}", """{"attributePayload":{"attributes":{"b":"","c":"3"},"merge":true},"expectedVersion":1}""");
        var merged = await OkAsync(HttpMethod.Get, $"api/things/{name}");
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["c"] = "3" }, Attributes(merged.GetProperty("attributes")));
        Assert.Equal(2, merged.GetProperty("version").GetInt64());

        await ProblemAsync(Patch, $"api/things/{name}", """{"attributePayload":{"attributes":{"z":"9"}},"expectedVersion":1}""", HttpStatusCode.Conflict, "VersionConflictException", "version 2");
        Assert.Equal(2, (await OkAsync(HttpMethod.Get, $"api/things/{name}")).GetProperty("version").GetInt64());

        await OkAsync(Patch, $"api/things/{name}", """{"attributePayload":{"attributes":{"z":"9"}}}""");
        var replaced = await OkAsync(HttpMethod.Get, $"api/things/{name}");
        Assert.Equal(new Dictionary<string, string> { ["z"] = "9" }, Attributes(replaced.GetProperty("attributes")));
    }

    [Fact]
    public async Task Update_typeChanges_andRefusals_changeNothing()
    {
        var name = Name("thing");
        var type = await TypeAsync();
        await OkAsync(HttpMethod.Post, $"api/things/{name}", "{}");

        await OkAsync(Patch, $"api/things/{name}", $$"""{"thingTypeName":"{{type}}"}""");
        Assert.Equal(type, (await OkAsync(HttpMethod.Get, $"api/things/{name}")).GetProperty("thingTypeName").GetString());

        await ProblemAsync(Patch, $"api/things/{name}", $$"""{"thingTypeName":"{{type}}","removeThingType":true}""", HttpStatusCode.BadRequest, "InvalidRequestException", "removeThingType");
        await ProblemAsync(Patch, $"api/things/{name}", """{"expectedVersion":"two"}""", HttpStatusCode.BadRequest, "InvalidRequestException", "expectedVersion");
        await ProblemAsync(Patch, $"api/things/{name}", """{"removeThingType":"yes"}""", HttpStatusCode.BadRequest, "InvalidRequestException", "removeThingType must be true or false");
        await ProblemAsync(Patch, $"api/things/{name}", """{"attributePayload":{"merge":1}}""", HttpStatusCode.BadRequest, "InvalidRequestException", "attributePayload.merge");
        await ProblemAsync(Patch, $"api/things/{Name("thing")}", "{}", HttpStatusCode.NotFound, "ResourceNotFoundException");

        var thing = await OkAsync(HttpMethod.Get, $"api/things/{name}");
        Assert.Equal(2, thing.GetProperty("version").GetInt64());
        Assert.Equal(type, thing.GetProperty("thingTypeName").GetString());

        await OkAsync(Patch, $"api/things/{name}", """{"removeThingType":true}""");
        Assert.False((await OkAsync(HttpMethod.Get, $"api/things/{name}")).TryGetProperty("thingTypeName", out _));
    }

    [Fact]
    public async Task Delete_withExpectedVersion_andIdempotent()
    {
        var name = Name("thing");
        await OkAsync(HttpMethod.Post, $"api/things/{name}", "{}");

        await ProblemAsync(HttpMethod.Delete, $"api/things/{name}?expectedVersion=abc", null, HttpStatusCode.BadRequest, "InvalidRequestException", "expectedVersion");
        await ProblemAsync(HttpMethod.Delete, $"api/things/{name}?expectedVersion=7", null, HttpStatusCode.Conflict, "VersionConflictException");
        await OkAsync(HttpMethod.Get, $"api/things/{name}");

        await OkAsync(HttpMethod.Delete, $"api/things/{name}?expectedVersion=1");
        await ProblemAsync(HttpMethod.Get, $"api/things/{name}", null, HttpStatusCode.NotFound, "ResourceNotFoundException");
        await OkAsync(HttpMethod.Delete, $"api/things/{name}");
    }

    [Fact]
    public async Task List_byTypeAndAttribute_pagesWithNextToken()
    {
        var type = await TypeAsync();
        var names = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            names.Add(Name("thing"));
            await OkAsync(HttpMethod.Post, $"api/things/{names[^1]}", $$$$"""{"thingTypeName":"{{{{type}}}}","attributePayload":{"attributes":{"even":"{{{{i % 2 == 0}}}}"}}}""");
        }

        var byType = await AllPagesAsync($"api/things?thingTypeName={type}", "things", 2);
        var evenOnes = await AllPagesAsync($"api/things?thingTypeName={type}&attributeName=even&attributeValue=True", "things", 1);

        Assert.Equal(names.Order(StringComparer.Ordinal), byType.Select(t => t.GetProperty("thingName").GetString()));
        var first = byType.Single(t => t.GetProperty("thingName").GetString() == names[0]);
        Assert.Equal(type, first.GetProperty("thingTypeName").GetString());
        Assert.EndsWith($":thing/{names[0]}", first.GetProperty("thingArn").GetString());
        Assert.Equal(1, first.GetProperty("version").GetInt64());
        Assert.Equal("True", first.GetProperty("attributes").GetProperty("even").GetString());
        Assert.Equal(new[] { names[0], names[2], names[4] }.Order(StringComparer.Ordinal), evenOnes.Select(t => t.GetProperty("thingName").GetString()));
    }

    [Theory]
    [InlineData("maxResults=0", "maxResults")]
    [InlineData("maxResults=251", "maxResults")]
    [InlineData("maxResults=ten", "maxResults")]
    [InlineData("nextToken=garbage", "nextToken")]
    [InlineData("attributeValue=x", "attributeName")]
    [InlineData("attributeName=a%20b", "attributeName")]
    [InlineData("thingTypeName=bad%20type", "thingTypeName")]
    public async Task List_badQuery_is400NamingIt(string query, string detail)
        => await ProblemAsync(HttpMethod.Get, $"api/things?{query}", null, HttpStatusCode.BadRequest, "InvalidRequestException", detail);

    [Fact]
    public async Task List_byUnknownGroup_is404()
        => await ProblemAsync(HttpMethod.Get, $"api/things?thingGroupName={Name("group")}", null, HttpStatusCode.NotFound, "ResourceNotFoundException");
}
