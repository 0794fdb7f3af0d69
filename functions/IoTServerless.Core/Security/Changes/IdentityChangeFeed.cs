using System.Globalization;
using Azure.Data.Tables;
using IoTServerless.Core.Storage;

namespace IoTServerless.Core.Security.Changes;

/// <summary>What changed: a certificate, a thing's principals, a policy, a thing or a group.</summary>
public static class IdentityChangeKinds
{
    public const string Certificate = "certificate";
    public const string CaCertificate = "cacertificate";
    public const string Principal = "principal";
    public const string Policy = "policy";
    public const string Thing = "thing";
    public const string ThingGroup = "thinggroup";
}

/// <summary>One change: its kind and key (certificate id, policy name, …), and its position in the feed.</summary>
public sealed record IdentityChange(string Kind, string Key, string Position);

/// <summary>
/// An append-only feed of identity changes in Table storage (partition = UTC minute, row = time-ordered
/// id). The functions append on every change to certificates, attachments, policies, things and groups;
/// every broker replica polls it (about once a second) and re-checks its live connections, so changes
/// reach all replicas within seconds without the functions knowing where the replicas are.
/// </summary>
public sealed class IdentityChangeFeed(TableClientProvider tables, TimeProvider time)
{
    public const string Table = "IdentityChanges";

    static string Partition(DateTimeOffset t) => t.UtcDateTime.ToString("yyyyMMddHHmm", CultureInfo.InvariantCulture);

    public async Task AppendAsync(string kind, string key, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var table = await tables.GetTableAsync(Table, cancellationToken);
        var row = $"{now.UtcTicks:D19}-{Guid.NewGuid():N}";
        await table.AddEntityAsync(new TableEntity(Partition(now), row) { ["Kind"] = kind, ["Key"] = key }, cancellationToken);
    }

    /// <summary>The position of "now": changes appended later come after it.</summary>
    public string Now() => $"{time.GetUtcNow().UtcTicks:D19}";

    /// <summary>Changes after <paramref name="position"/> (at most a few minutes back), oldest first.</summary>
    public async Task<IReadOnlyList<IdentityChange>> ReadAfterAsync(string position, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(Table, cancellationToken);
        var from = new DateTimeOffset(long.Parse(position.AsSpan(0, 19), CultureInfo.InvariantCulture), TimeSpan.Zero);
        var now = time.GetUtcNow();
        if (now - from > TimeSpan.FromMinutes(10))
        {
            from = now - TimeSpan.FromMinutes(10);
        }
        var changes = new List<IdentityChange>();
        for (var minute = new DateTimeOffset(from.Year, from.Month, from.Day, from.Hour, from.Minute, 0, TimeSpan.Zero); minute <= now; minute = minute.AddMinutes(1))
        {
            var filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition(minute)} and RowKey gt {position}");
            await foreach (var e in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
            {
                changes.Add(new IdentityChange(e.GetString("Kind") ?? "", e.GetString("Key") ?? "", e.RowKey));
            }
        }
        return changes;
    }
}
