using Azure;
using Azure.Data.Tables;
using IoTServerless.Core.Storage;

namespace IoTServerless.Core.Events;

/// <summary>
/// Processed event ids in Table storage: partition = a hash bucket of the id (point reads, spread
/// writes), row = the id.
/// </summary>
public sealed class TableProcessedEventStore(TableClientProvider tables, TimeProvider time) : IProcessedEventStore
{
    const int Buckets = 64;

    public async Task<bool> IsProcessedAsync(string eventId, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(TableNames.ProcessedEvents, cancellationToken);
        var result = await table.GetEntityIfExistsAsync<TableEntity>(PartitionOf(eventId), RowKeys.Escape(eventId), ["PartitionKey"], cancellationToken);
        return result.HasValue;
    }

    public async Task MarkProcessedAsync(string eventId, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(TableNames.ProcessedEvents, cancellationToken);
        var entity = new TableEntity(PartitionOf(eventId), RowKeys.Escape(eventId)) { ["ProcessedAt"] = time.GetUtcNow() };
        await table.UpsertEntityAsync(entity, TableUpdateMode.Replace, cancellationToken);
    }

    public async Task<int> PurgeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(TableNames.ProcessedEvents, cancellationToken);
        var purged = 0;
        for (var bucket = 0; bucket < Buckets; bucket++)
        {
            var partition = bucket.ToString("x2");
            var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and ProcessedAt lt {cutoff}");
            var old = table.QueryAsync<TableEntity>(filter, select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken);
            var batch = new List<TableTransactionAction>(100);
            await foreach (var entity in old)
            {
                batch.Add(new TableTransactionAction(TableTransactionActionType.Delete, entity, ETag.All));
                if (batch.Count == 100)
                {
                    purged += await SubmitAsync(table, batch, cancellationToken);
                }
            }
            purged += await SubmitAsync(table, batch, cancellationToken);
        }
        return purged;
    }

    static async Task<int> SubmitAsync(TableClient table, List<TableTransactionAction> batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
        {
            return 0;
        }
        var count = batch.Count;
        await table.SubmitTransactionAsync(batch, cancellationToken);
        batch.Clear();
        return count;
    }

    static string PartitionOf(string eventId)
    {
        // FNV-1a: stable across processes and versions (string.GetHashCode is not).
        var hash = 2166136261u;
        foreach (var c in eventId)
        {
            hash = (hash ^ c) * 16777619u;
        }
        return (hash % Buckets).ToString("x2");
    }
}
