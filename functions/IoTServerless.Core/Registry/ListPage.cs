using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;

namespace IoTServerless.Core.Registry;

/// <summary>One page of a list and the token for the next one (null on the last page).</summary>
public sealed record ListPage<T>(IReadOnlyList<T> Items, string? NextToken);

/// <summary>
/// Opaque list tokens: base64url of the Table continuation plus a fingerprint of the query it
/// belongs to, so a token is refused (400) when replayed against another list or other filters.
/// </summary>
internal static class PageTokens
{
    public const int DefaultMaxResults = 100;
    public const int MaxMaxResults = 250;

    public static string Encode(string continuation, string query)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["q"] = Fingerprint(query), ["c"] = continuation });
        return Base64Url(json);
    }

    /// <summary>The Table continuation inside <paramref name="token"/>; null for no token.</summary>
    public static string? Decode(string? token, string query)
    {
        if (string.IsNullOrEmpty(token))
        {
            return null;
        }
        try
        {
            var padded = token.Replace('-', '+').Replace('_', '/');
            padded += new string('=', (4 - padded.Length % 4) % 4);
            var values = JsonSerializer.Deserialize<Dictionary<string, string>>(Convert.FromBase64String(padded));
            if (values is not null && values.TryGetValue("q", out var q) && q == Fingerprint(query) && values.TryGetValue("c", out var c) && c.Length > 0)
            {
                return c;
            }
        }
        catch (Exception ex) when (ex is FormatException or JsonException or ArgumentException)
        {
        }
        throw RegistryException.Invalid("Invalid nextToken: it is not a token this list returned for these filters.");
    }

    public static int RequireMaxResults(int? maxResults)
    {
        if (maxResults is null)
        {
            return DefaultMaxResults;
        }
        if (maxResults is < 1 or > MaxMaxResults)
        {
            throw RegistryException.Invalid($"Invalid maxResults {maxResults}: it must be between 1 and {MaxMaxResults}.");
        }
        return maxResults.Value;
    }

    /// <summary>One page of a table query, resumed from <paramref name="nextToken"/>.</summary>
    public static async Task<(IReadOnlyList<TableEntity> Entities, string? NextToken)> QueryPageAsync(
        TableClient table, string? filter, IEnumerable<string>? select, string queryFingerprint, int? maxResults, string? nextToken, CancellationToken cancellationToken)
    {
        var size = RequireMaxResults(maxResults);
        var continuation = Decode(nextToken, queryFingerprint);
        await foreach (Page<TableEntity> page in table.QueryAsync<TableEntity>(filter, size, select, cancellationToken).AsPages(continuation, size))
        {
            var next = page.ContinuationToken;
            return (page.Values, string.IsNullOrEmpty(next) ? null : Encode(next, queryFingerprint));
        }
        return ([], null);
    }

    static string Fingerprint(string query) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(query)))[..16];

    static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
