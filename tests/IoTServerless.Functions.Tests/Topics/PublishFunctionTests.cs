using System.Net;
using IoTServerless.Testing;

namespace IoTServerless.Functions.Tests.Topics;

/// <summary>Bad publish requests are refused before anything reaches the broker.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class PublishFunctionTests(AzuriteFixture azurite)
{
    [Theory]
    [InlineData("api/topics/farmA/%2B/cmd", HttpStatusCode.BadRequest)]
    [InlineData("api/topics/farmA/pump/%23", HttpStatusCode.BadRequest)]
    [InlineData("api/topics/a/b/c/d/e/f/g/h/i", HttpStatusCode.BadRequest)]
    [InlineData("api/topics/farmA/pump/p1/cmd?qos=2", HttpStatusCode.BadRequest)]
    [InlineData("api/topics/farmA/pump/p1/cmd?qos=x", HttpStatusCode.BadRequest)]
    [InlineData("api/topics/farmA/pump/p1/cmd?retain=maybe", HttpStatusCode.BadRequest)]
    public async Task Publish_withInvalidInput_isRefusedWithProblemDetails(string url, HttpStatusCode expected)
    {
        await using var app = await TestFunctionApp.StartAsync(azurite.ConnectionString);
        using var http = app.CreateClient();
        using var response = await http.PostAsync(url, new StringContent("{}"));
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Publish_ofMoreThan128KB_is413()
    {
        await using var app = await TestFunctionApp.StartAsync(azurite.ConnectionString);
        using var http = app.CreateClient();
        using var response = await http.PostAsync("api/topics/farmA/pump/p1/cmd", new ByteArrayContent(new byte[128 * 1024 + 1]));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }
}
