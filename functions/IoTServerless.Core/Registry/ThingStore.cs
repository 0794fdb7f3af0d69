using System.Net;
using Azure;
using Azure.Data.Tables;
using IoTServerless.Core.Events;
using IoTServerless.Core.Storage;

namespace IoTServerless.Core.Registry;

/// <summary>
/// Things in Table storage: one entity per thing (partition = thing name, row = ""), so reading a
/// thing is a point read. Connectivity updates use ETags and apply only newer lifecycle events, so
/// redelivered or reordered events never move a thing's state backwards.
/// </summary>
public sealed class ThingStore(TableClientProvider tables)
{
    const string Row = "";

    public async Task<Thing?> GetAsync(string thingName, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(TableNames.Things, cancellationToken);
        var result = await table.GetEntityIfExistsAsync<TableEntity>(thingName, Row, cancellationToken: cancellationToken);
        return result.HasValue ? ToThing(result.Value!) : null;
    }

    /// <summary>Records a connected/disconnected event; false when it was not newer than what is stored.</summary>
    public async Task<bool> ApplyLifecycleEventAsync(LifecycleEvent e, CancellationToken cancellationToken)
    {
        var connected = e.EventType == LifecycleEventTypes.Connected;
        var table = await tables.GetTableAsync(TableNames.Things, cancellationToken);
        for (var attempt = 0; ; attempt++)
        {
            var existing = await table.GetEntityIfExistsAsync<TableEntity>(e.ClientId, Row, cancellationToken: cancellationToken);
            var entity = existing.HasValue ? existing.Value! : new TableEntity(e.ClientId, Row);
            if (existing.HasValue && !IsNewer(e, connected, entity))
            {
                return false;
            }
            entity["Connected"] = connected;
            entity["ConnectivityTimestamp"] = e.Timestamp;
            entity["ConnectivityVersion"] = e.VersionNumber;
            entity["DisconnectReason"] = connected ? null : e.DisconnectReason;
            entity["SessionIdentifier"] = e.SessionIdentifier;
            entity["PrincipalIdentifier"] = e.PrincipalIdentifier;
            if (connected)
            {
                entity["IpAddress"] = e.IpAddress;
            }
            try
            {
                if (existing.HasValue)
                {
                    await table.UpdateEntityAsync(entity, entity.ETag, TableUpdateMode.Replace, cancellationToken);
                }
                else
                {
                    await table.AddEntityAsync(entity, cancellationToken);
                }
                return true;
            }
            catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.Conflict)
            {
                // Lost a race: read again and re-decide. This ends: every lost race stored a newer
                // state, and once the stored state is newer than this event the loop returns false.
                await Task.Delay(Random.Shared.Next(0, Math.Min(50, 1 + attempt * 5)), cancellationToken);
            }
        }
    }

    /// <summary>Order: event time, then the per-client connection version, then disconnect after connect.</summary>
    static bool IsNewer(LifecycleEvent e, bool connected, TableEntity stored)
    {
        var storedTime = stored.GetInt64("ConnectivityTimestamp") ?? 0;
        if (e.Timestamp != storedTime)
        {
            return e.Timestamp > storedTime;
        }
        var storedVersion = stored.GetInt64("ConnectivityVersion") ?? 0;
        if (e.VersionNumber != storedVersion)
        {
            return e.VersionNumber > storedVersion;
        }
        return !connected && (stored.GetBoolean("Connected") ?? false);
    }

    static Thing ToThing(TableEntity entity) => new(
        entity.PartitionKey,
        new ThingConnectivity(
            entity.GetBoolean("Connected") ?? false,
            entity.GetInt64("ConnectivityTimestamp") ?? 0,
            entity.GetString("DisconnectReason")));
}
