using Azure;
using Azure.Data.Tables;
using IoTServerless.Core.Storage;

namespace IoTServerless.Core.Security.Certificates;

/// <summary>
/// Which certificates (principals) are attached to which things, indexed both ways:
/// partition <c>cert|{id}</c> lists a certificate's things, partition <c>thing|{name}</c> a thing's certificates.
/// </summary>
public sealed class ThingPrincipalStore(TableClientProvider tables)
{
    public const string Table = "ThingPrincipals";

    static string CertPartition(string certificateId) => "cert|" + certificateId;

    static string ThingPartition(string thingName) => "thing|" + thingName;

    public async Task AttachAsync(string thingName, string certificateId, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(Table, cancellationToken);
        await table.UpsertEntityAsync(new TableEntity(CertPartition(certificateId), thingName), TableUpdateMode.Replace, cancellationToken);
        await table.UpsertEntityAsync(new TableEntity(ThingPartition(thingName), certificateId), TableUpdateMode.Replace, cancellationToken);
    }

    public async Task DetachAsync(string thingName, string certificateId, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(Table, cancellationToken);
        await table.DeleteEntityAsync(ThingPartition(thingName), certificateId, ETag.All, cancellationToken);
        await table.DeleteEntityAsync(CertPartition(certificateId), thingName, ETag.All, cancellationToken);
    }

    public async Task<bool> IsAttachedAsync(string thingName, string certificateId, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(Table, cancellationToken);
        return (await table.GetEntityIfExistsAsync<TableEntity>(CertPartition(certificateId), thingName, ["PartitionKey"], cancellationToken)).HasValue;
    }

    public Task<IReadOnlyList<string>> ListThingsAsync(string certificateId, CancellationToken cancellationToken)
        => ListRowsAsync(CertPartition(certificateId), cancellationToken);

    public Task<IReadOnlyList<string>> ListPrincipalsAsync(string thingName, CancellationToken cancellationToken)
        => ListRowsAsync(ThingPartition(thingName), cancellationToken);

    async Task<IReadOnlyList<string>> ListRowsAsync(string partition, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(Table, cancellationToken);
        var rows = new List<string>();
        await foreach (var e in table.QueryAsync<TableEntity>(e => e.PartitionKey == partition, select: ["RowKey"], cancellationToken: cancellationToken))
        {
            rows.Add(e.RowKey);
        }
        return rows;
    }
}
