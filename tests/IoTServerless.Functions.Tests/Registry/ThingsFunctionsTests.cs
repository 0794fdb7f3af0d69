using System.Net;
using IoTServerless.Testing;

namespace IoTServerless.Functions.Tests.Registry;

[Collection(AzuriteCollection.Name)]
public sealed class ThingsFunctionsTests(AzuriteFixture azurite)
{
    [Theory]
    [InlineData("bad%20name", HttpStatusCode.BadRequest)]
    [InlineData("has.dot", HttpStatusCode.BadRequest)]
    [InlineData("never-seen-thing", HttpStatusCode.NotFound)]
    public async Task GetThing_answersProblemDetailsForBadOrUnknownNames(string name, HttpStatusCode expected)
    {
        await using var app = await TestFunctionApp.StartAsync(azurite.ConnectionString);
        using var http = app.CreateClient();
        using var response = await http.GetAsync($"api/things/{name}");
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
}
