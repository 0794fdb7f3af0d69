using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using IoTServerless.Testing;

namespace IoTServerless.Functions.Tests.Registry;

/// <summary>The function app (standalone) with helpers for the registry API's calls and answers.</summary>
public abstract class RegistryApi(AzuriteFixture azurite) : IAsyncLifetime
{
    TestFunctionApp _app = null!;

    protected HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _app = await TestFunctionApp.StartAsync(azurite.ConnectionString);
        Http = _app.CreateClient();
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await _app.DisposeAsync();
    }

    protected static string Name(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Sends a request; returns the status and the JSON body (default when empty).</summary>
    protected async Task<(HttpStatusCode Status, JsonElement Json, string? MediaType)> SendAsync(HttpMethod method, string url, string? body = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone(), response.Content.Headers.ContentType?.MediaType);
    }

    /// <summary>Sends and expects 200, returning the body.</summary>
    protected async Task<JsonElement> OkAsync(HttpMethod method, string url, string? body = null)
    {
        var (status, json, _) = await SendAsync(method, url, body);
        Assert.True(status == HttpStatusCode.OK, $"{method} {url} answered {(int)status}: {json}");
        return json;
    }

    /// <summary>Sends and expects problem details with the status, AWS error code and a detail containing <paramref name="detail"/>.</summary>
    protected async Task<JsonElement> ProblemAsync(HttpMethod method, string url, string? body, HttpStatusCode expected, string code, string? detail = null)
    {
        var (status, json, mediaType) = await SendAsync(method, url, body);
        Assert.True(status == expected, $"{method} {url} answered {(int)status}, not {(int)expected}: {json}");
        Assert.Equal("application/problem+json", mediaType);
        Assert.Equal((int)expected, json.GetProperty("status").GetInt32());
        Assert.Equal(code, json.GetProperty("code").GetString());
        var text = json.GetProperty("detail").GetString();
        Assert.False(string.IsNullOrEmpty(text));
        if (detail is not null)
        {
            Assert.Contains(detail, text);
        }
        return json;
    }

    /// <summary>Every item of a paged list answer, following nextToken.</summary>
    protected async Task<List<JsonElement>> AllPagesAsync(string url, string itemsName, int maxResults)
    {
        var items = new List<JsonElement>();
        string? token = null;
        for (var pages = 0; pages < 1000; pages++)
        {
            var separator = url.Contains('?') ? '&' : '?';
            var page = await OkAsync(HttpMethod.Get, $"{url}{separator}maxResults={maxResults}" + (token is null ? "" : "&nextToken=" + Uri.EscapeDataString(token)));
            var list = page.GetProperty(itemsName).EnumerateArray().ToList();
            Assert.True(list.Count <= maxResults);
            items.AddRange(list);
            if (!page.TryGetProperty("nextToken", out var next))
            {
                return items;
            }
            token = next.GetString();
        }
        throw new InvalidOperationException("paging did not end");
    }

    protected static Dictionary<string, string> Attributes(JsonElement json)
        => json.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);

    protected Task<HttpResponseMessage> PostJsonAsync(string url, object body) => Http.PostAsJsonAsync(url, body);
}
