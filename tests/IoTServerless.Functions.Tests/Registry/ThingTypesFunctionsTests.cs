using System.Net;
using IoTServerless.Testing;

namespace IoTServerless.Functions.Tests.Registry;

/// <summary>The thing types API over real HTTP (standalone app) on real Table storage (Azurite).</summary>
[Collection(AzuriteCollection.Name)]
public sealed class ThingTypesFunctionsTests(AzuriteFixture azurite) : RegistryApi(azurite)
{
    [Fact]
    public async Task CreateDescribeDeprecateDelete_lifecycle()
    {
        var name = Name("type");

        var created = await OkAsync(HttpMethod.Post, $"api/thing-types/{name}", """{"thingTypeProperties":{"thingTypeDescription":"soil sensor","searchableAttributes":["farm"]}}""");
        Assert.Equal(name, created.GetProperty("thingTypeName").GetString());
        Assert.EndsWith($":thingtype/{name}", created.GetProperty("thingTypeArn").GetString());

        var type = await OkAsync(HttpMethod.Get, $"api/thing-types/{name}");
        Assert.Equal(created.GetProperty("thingTypeId").GetString(), type.GetProperty("thingTypeId").GetString());
        Assert.Equal("soil sensor", type.GetProperty("thingTypeProperties").GetProperty("thingTypeDescription").GetString());
        Assert.Equal("farm", type.GetProperty("thingTypeProperties").GetProperty("searchableAttributes")[0].GetString());
        Assert.False(type.GetProperty("thingTypeMetadata").GetProperty("deprecated").GetBoolean());
        Assert.True(type.GetProperty("thingTypeMetadata").GetProperty("creationDate").GetDouble() > 1_700_000_000);

        await ProblemAsync(HttpMethod.Delete, $"api/thing-types/{name}", null, HttpStatusCode.Conflict, "DeleteConflictException", "not deprecated");

        await OkAsync(HttpMethod.Post, $"api/thing-types/{name}/deprecate", """{"undoDeprecate":false}""");
        var deprecated = await OkAsync(HttpMethod.Get, $"api/thing-types/{name}");
        Assert.True(deprecated.GetProperty("thingTypeMetadata").GetProperty("deprecated").GetBoolean());
        Assert.True(deprecated.GetProperty("thingTypeMetadata").TryGetProperty("deprecationDate", out _));

        await OkAsync(HttpMethod.Post, $"api/thing-types/{name}/deprecate", """{"undoDeprecate":true}""");
        Assert.False((await OkAsync(HttpMethod.Get, $"api/thing-types/{name}")).GetProperty("thingTypeMetadata").GetProperty("deprecated").GetBoolean());

        await OkAsync(HttpMethod.Post, $"api/thing-types/{name}/deprecate", null);
        await OkAsync(HttpMethod.Delete, $"api/thing-types/{name}");
        await ProblemAsync(HttpMethod.Get, $"api/thing-types/{name}", null, HttpStatusCode.NotFound, "ResourceNotFoundException");
    }

    [Fact]
    public async Task Delete_deprecatedTypeStillUsedByAThing_is409()
    {
        var name = Name("type");
        await OkAsync(HttpMethod.Post, $"api/thing-types/{name}", null);
        await OkAsync(HttpMethod.Post, $"api/things/{Name("thing")}", $$"""{"thingTypeName":"{{name}}"}""");
        await OkAsync(HttpMethod.Post, $"api/thing-types/{name}/deprecate", "{}");

        await ProblemAsync(HttpMethod.Delete, $"api/thing-types/{name}", null, HttpStatusCode.Conflict, "DeleteConflictException", "used by things");

        await OkAsync(HttpMethod.Get, $"api/thing-types/{name}");
    }

    [Fact]
    public async Task Create_differentPropertiesForExistingType_is409()
    {
        var name = Name("type");
        await OkAsync(HttpMethod.Post, $"api/thing-types/{name}", """{"thingTypeProperties":{"thingTypeDescription":"a"}}""");
        await OkAsync(HttpMethod.Post, $"api/thing-types/{name}", """{"thingTypeProperties":{"thingTypeDescription":"a"}}""");

        await ProblemAsync(HttpMethod.Post, $"api/thing-types/{name}", """{"thingTypeProperties":{"thingTypeDescription":"b"}}""", HttpStatusCode.Conflict, "ResourceAlreadyExistsException");

        Assert.Equal("a", (await OkAsync(HttpMethod.Get, $"api/thing-types/{name}")).GetProperty("thingTypeProperties").GetProperty("thingTypeDescription").GetString());
    }

    [Theory]
    [InlineData("""{"thingTypeProperties":[]}""", "thingTypeProperties must be an object")]
    [InlineData("""{"thingTypeProperties":{"searchableAttributes":"farm"}}""", "searchableAttributes must be an array")]
    [InlineData("""{"thingTypeProperties":{"searchableAttributes":[1]}}""", "searchableAttributes must be an array of strings")]
    [InlineData("""{"thingTypeProperties":{"searchableAttributes":["a","b","c","d"]}}""", "searchableAttributes")]
    [InlineData("""{"thingTypeProperties":{"thingTypeDescription":7}}""", "thingTypeDescription must be a string")]
    [InlineData("{", "not valid JSON")]
    public async Task Create_badBody_is400NamingTheProblem_andStoresNothing(string body, string detail)
    {
        var name = Name("type");

        await ProblemAsync(HttpMethod.Post, $"api/thing-types/{name}", body, HttpStatusCode.BadRequest, "InvalidRequestException", detail);

        await ProblemAsync(HttpMethod.Get, $"api/thing-types/{name}", null, HttpStatusCode.NotFound, "ResourceNotFoundException");
    }

    [Fact]
    public async Task BadNamesAndUnknownTypes_answer400And404()
    {
        await ProblemAsync(HttpMethod.Post, "api/thing-types/bad%20name", "{}", HttpStatusCode.BadRequest, "InvalidRequestException", "thing type name");
        await ProblemAsync(HttpMethod.Get, "api/thing-types/has.dot", null, HttpStatusCode.BadRequest, "InvalidRequestException");
        await ProblemAsync(HttpMethod.Post, $"api/thing-types/{Name("type")}/deprecate", "{}", HttpStatusCode.NotFound, "ResourceNotFoundException");
        await ProblemAsync(HttpMethod.Delete, $"api/thing-types/{Name("type")}", null, HttpStatusCode.NotFound, "ResourceNotFoundException");
    }

    [Fact]
    public async Task Deprecate_badBody_is400AndChangesNothing()
    {
        var name = Name("type");
        await OkAsync(HttpMethod.Post, $"api/thing-types/{name}", "{}");

        await ProblemAsync(HttpMethod.Post, $"api/thing-types/{name}/deprecate", """{"undoDeprecate":"yes"}""", HttpStatusCode.BadRequest, "InvalidRequestException", "undoDeprecate");

        Assert.False((await OkAsync(HttpMethod.Get, $"api/thing-types/{name}")).GetProperty("thingTypeMetadata").GetProperty("deprecated").GetBoolean());
    }

    [Fact]
    public async Task List_pagesThroughTypes()
    {
        var names = new[] { Name("type"), Name("type"), Name("type") };
        foreach (var name in names)
        {
            await OkAsync(HttpMethod.Post, $"api/thing-types/{name}", "{}");
        }

        var all = await AllPagesAsync("api/thing-types", "thingTypes", 2);

        Assert.Subset(all.Select(t => t.GetProperty("thingTypeName").GetString()!).ToHashSet(), names.ToHashSet());
    }
}
