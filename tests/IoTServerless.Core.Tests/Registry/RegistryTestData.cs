using IoTServerless.Core.Registry;

namespace IoTServerless.Core.Tests.Registry;

/// <summary>Unique names per test (the tests share one Azurite) and page walking.</summary>
static class RegistryTestData
{
    public static string Name(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..12];

    public static Dictionary<string, string> Attrs(params (string Name, string Value)[] attributes)
        => attributes.ToDictionary(a => a.Name, a => a.Value);

    /// <summary>Every item of a paged list, checking that no page is larger than <paramref name="maxResults"/>.</summary>
    public static async Task<List<T>> AllPagesAsync<T>(Func<string?, Task<ListPage<T>>> list, int maxResults)
    {
        var all = new List<T>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = await list(token);
            Assert.True(page.Items.Count <= maxResults, $"a page held {page.Items.Count} items, more than {maxResults}");
            all.AddRange(page.Items);
            token = page.NextToken;
            Assert.True(++pages < 1000, "paging did not end");
        }
        while (token is not null);
        return all;
    }
}
