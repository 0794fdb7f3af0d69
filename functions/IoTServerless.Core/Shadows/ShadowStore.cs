using System.Net;
using Azure;
using Azure.Data.Tables;
using IoTServerless.Core.Registry;
using IoTServerless.Core.Storage;
using Microsoft.Extensions.Caching.Memory;

namespace IoTServerless.Core.Shadows;

/// <summary>
/// A shadow as read, with the ETag to write it back against (null when no entity exists);
/// <see cref="Remembered"/> when it is this process's last write rather than a read.
/// </summary>
public sealed record StoredShadow(ShadowDocument Document, ETag? ETag, bool Remembered = false);

/// <summary>
/// Shadows in Table storage (<see cref="TableNames.Shadows"/>): one entity per shadow, partition =
/// thing name, row = shadow name, or "" for the classic shadow (a named shadow's name is never
/// empty). Columns: <c>State</c> and <c>Metadata</c> (JSON text, spread over <c>State1</c>,
/// <c>Metadata1</c>, … when longer than a column holds), <c>Version</c>, <c>Deleted</c>. A deleted
/// shadow keeps its entity with <c>Deleted = true</c> and its version, so a re-created shadow
/// continues the version. Writes are conditional: Add when no entity was read, If-Match on its
/// ETag otherwise, so concurrent writers never lose each other's changes.
/// The write path starts from what this process last wrote (<see cref="GetForWriteAsync"/>): an
/// update costs one Table operation instead of two while the shadow is hot here, and a writer
/// elsewhere only costs a failed If-Match and a fresh read.
/// </summary>
public sealed class ShadowStore(TableClientProvider tables) : IDisposable
{
    /// <summary>How many shadows' last writes are remembered for the next update.</summary>
    public const int WrittenCacheEntries = 20_000;

    readonly MemoryCache _written = new(new MemoryCacheOptions { SizeLimit = WrittenCacheEntries });

    sealed record Written(string? State, string? Metadata, long Version, bool Deleted, ETag ETag);

    /// <summary>The row key of the classic (unnamed) shadow.</summary>
    public const string ClassicRowKey = "";

    public const int DefaultPageSize = 25;
    public const int MaxPageSize = 100;

    // A string column holds up to 64 KiB (32K UTF-16 characters); metadata of a full 8 KB state can be several times that.
    const int ColumnChars = 30_000;

    public static string RowKey(string? shadowName) => shadowName ?? ClassicRowKey;

    public async Task<StoredShadow> GetAsync(string thingName, string? shadowName, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(TableNames.Shadows, cancellationToken);
        var result = await table.GetEntityIfExistsAsync<TableEntity>(thingName, RowKey(shadowName), cancellationToken: cancellationToken);
        if (!result.HasValue || result.Value is not { } entity)
        {
            return new StoredShadow(ShadowDocument.None, null);
        }
        var document = ShadowDocument.FromStorage(
            ReadColumns(entity, "State"), ReadColumns(entity, "Metadata"), entity.GetInt64("Version") ?? 0, entity.GetBoolean("Deleted") ?? false);
        return new StoredShadow(document, entity.ETag);
    }

    /// <summary>
    /// The shadow an update starts from: as this process last wrote it, with that write's ETag, or
    /// read from the table. Reads for answering (<see cref="GetAsync"/>) always go to the table.
    /// </summary>
    public Task<StoredShadow> GetForWriteAsync(string thingName, string? shadowName, CancellationToken cancellationToken)
        => _written.TryGetValue(CacheKey(thingName, shadowName), out Written? w)
            ? Task.FromResult(new StoredShadow(ShadowDocument.FromStorage(w!.State, w.Metadata, w.Version, w.Deleted), w.ETag, Remembered: true))
            : GetAsync(thingName, shadowName, cancellationToken);

    static string CacheKey(string thingName, string? shadowName) => thingName + "/" + shadowName;

    public void Dispose() => _written.Dispose();

    /// <summary>
    /// Stores <paramref name="document"/> (a deleted one as a tombstone) if the entity is still as it was
    /// read: absent when <paramref name="expected"/> is null, at that ETag otherwise. False when it changed.
    /// </summary>
    public async Task<bool> TryWriteAsync(string thingName, string? shadowName, ShadowDocument document, ETag? expected, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(TableNames.Shadows, cancellationToken);
        var entity = new TableEntity(thingName, RowKey(shadowName))
        {
            ["Version"] = document.Version,
            ["Deleted"] = !document.Exists,
        };
        string? state = null, metadata = null;
        if (document.Exists)
        {
            WriteColumns(entity, "State", state = document.StateJson());
            WriteColumns(entity, "Metadata", metadata = document.MetadataJson());
        }
        var key = CacheKey(thingName, shadowName);
        try
        {
            var response = expected is { } etag
                // Replace drops columns the new document no longer needs (e.g. Metadata2).
                ? await table.UpdateEntityAsync(entity, etag, TableUpdateMode.Replace, cancellationToken)
                : await table.AddEntityAsync(entity, cancellationToken);
            if (response.Headers.ETag is { } written)
            {
                _written.Set(key, new Written(state, metadata, document.Version, !document.Exists, written),
                    new MemoryCacheEntryOptions { Size = 1, SlidingExpiration = TimeSpan.FromMinutes(10) });
            }
            else
            {
                _written.Remove(key);
            }
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
        {
            _written.Remove(key);
            return false;
        }
        catch
        {
            _written.Remove(key);
            throw;
        }
    }

    /// <summary>
    /// One page of the thing's named shadows that exist (not the classic one, not deleted ones), in
    /// name order. A page may hold fewer than <paramref name="pageSize"/> names and still have a next
    /// token. Throws <see cref="RegistryException"/> (invalid request) for a page size outside
    /// 1–<see cref="MaxPageSize"/> or a token this list did not return.
    /// </summary>
    public async Task<(IReadOnlyList<string> Names, string? NextToken)> ListNamedAsync(string thingName, string? nextToken, int? pageSize, CancellationToken cancellationToken)
    {
        var size = pageSize ?? DefaultPageSize;
        if (size is < 1 or > MaxPageSize)
        {
            throw RegistryException.Invalid($"Invalid pageSize {size}: it must be between 1 and {MaxPageSize}.");
        }
        var fingerprint = "shadows|" + thingName;
        var continuation = PageTokens.Decode(nextToken, fingerprint);
        var table = await tables.GetTableAsync(TableNames.Shadows, cancellationToken);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {thingName} and RowKey gt {ClassicRowKey} and Deleted eq {false}");
        await foreach (var page in table.QueryAsync<TableEntity>(filter, size, ["RowKey"], cancellationToken).AsPages(continuation, size))
        {
            var next = page.ContinuationToken;
            return ([.. page.Values.Select(e => e.RowKey)], string.IsNullOrEmpty(next) ? null : PageTokens.Encode(next, fingerprint));
        }
        return ([], null);
    }

    static void WriteColumns(TableEntity entity, string name, string value)
    {
        var offset = 0;
        var column = 0;
        do
        {
            var length = Math.Min(ColumnChars, value.Length - offset);
            if (offset + length < value.Length && char.IsHighSurrogate(value[offset + length - 1]))
            {
                length--; // never split a surrogate pair across columns
            }
            entity[column == 0 ? name : name + column] = value.Substring(offset, length);
            offset += length;
            column++;
        }
        while (offset < value.Length);
    }

    static string? ReadColumns(TableEntity entity, string name)
    {
        var first = entity.GetString(name);
        if (first is null || entity.GetString(name + 1) is null)
        {
            return first;
        }
        var parts = new List<string> { first };
        for (var i = 1; entity.GetString(name + i) is { } part; i++)
        {
            parts.Add(part);
        }
        return string.Concat(parts);
    }
}
