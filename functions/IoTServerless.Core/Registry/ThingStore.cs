using System.Net;
using Azure;
using Azure.Data.Tables;
using IoTServerless.Core.Events;
using IoTServerless.Core.Security.Changes;
using IoTServerless.Core.Storage;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Registry;

/// <summary>What became of a lifecycle event.</summary>
public enum LifecycleEventOutcome
{
    /// <summary>The thing's connectivity now reflects the event.</summary>
    Applied,

    /// <summary>The stored connectivity is as new as the event or newer; nothing changed.</summary>
    Outdated,

    /// <summary>No registered thing has the client id as its name; nothing was stored.</summary>
    UnknownThing,
}

/// <summary>
/// Things in Table storage: one entity per thing (partition = thing name, row = ""), so reading a
/// thing is a point read. A registered thing carries <c>Registered = true</c>, its id, type,
/// version and attributes (see <see cref="AttributeColumns"/>) besides its connectivity.
/// Connectivity updates use ETags and apply only newer lifecycle events, so redelivered or
/// reordered events never move a thing's state backwards; they never create a thing.
/// </summary>
public sealed class ThingStore(TableClientProvider tables, TimeProvider? time = null, IOptions<PlatformOptions>? platform = null, IdentityChangeFeed? changes = null)
{
    const string Row = "";
    readonly ThingTypeStore _types = new(tables, time, platform);
    readonly RegistryArns _arns = platform is null ? RegistryArns.Default : new RegistryArns(platform.Value);
    readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Creates the thing; idempotent when it exists with the same type and attributes (AWS).</summary>
    public async Task<CreateThingResult> CreateAsync(string thingName, CreateThingRequest request, CancellationToken cancellationToken)
    {
        RegistryNames.RequireThingName(thingName);
        if (request.ThingTypeName is not null)
        {
            RegistryNames.RequireThingTypeName(request.ThingTypeName, "thingTypeName");
        }
        RegistryNames.RequireAttributes(request.Attributes, "attributePayload.attributes");
        var attributes = WithoutEmpty(request.Attributes);
        RegistryNames.RequireAttributeCount(attributes.Count, request.ThingTypeName is not null);
        if (request.ThingTypeName is not null)
        {
            await _types.RequireUsableAsync(request.ThingTypeName, cancellationToken);
        }
        var table = await tables.GetTableAsync(TableNames.Things, cancellationToken);
        while (true)
        {
            var existing = await GetEntityAsync(table, thingName, cancellationToken);
            if (existing is not null && IsRegistered(existing))
            {
                if (existing.GetString("ThingTypeName") == request.ThingTypeName && SameAttributes(AttributeColumns.Read(existing), attributes))
                {
                    return new CreateThingResult(thingName, _arns.Thing(thingName), existing.GetString("ThingId")!);
                }
                throw new RegistryException(RegistryError.ResourceAlreadyExists, $"Thing '{thingName}' already exists with a different thing type or attributes.");
            }
            // A thing of this name may have been deleted while in groups; its memberships must not pass to the new one.
            await ThingGroupStore.RemoveAllMembershipsAsync(tables, thingName, cancellationToken);
            // An entity left by presence before things had to be registered keeps its connectivity.
            var entity = existing ?? new TableEntity(thingName, Row);
            entity["Registered"] = true;
            entity["ThingId"] = Guid.NewGuid().ToString();
            entity["ThingTypeName"] = request.ThingTypeName;
            entity["Version"] = 1L;
            entity["CreationDate"] = _time.GetUtcNow();
            AttributeColumns.Write(entity, attributes);
            try
            {
                if (existing is null)
                {
                    await table.AddEntityAsync(entity, cancellationToken);
                }
                else
                {
                    await table.UpdateEntityAsync(entity, entity.ETag, TableUpdateMode.Replace, cancellationToken);
                }
                return new CreateThingResult(thingName, _arns.Thing(thingName), entity.GetString("ThingId"));
            }
            catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
            {
                // Created (or changed) concurrently: decide again on what is stored now.
            }
        }
    }

    public async Task<Thing?> GetAsync(string thingName, CancellationToken cancellationToken)
    {
        if (!ThingName.IsValid(thingName))
        {
            return null;
        }
        var table = await tables.GetTableAsync(TableNames.Things, cancellationToken);
        var entity = await GetEntityAsync(table, thingName, cancellationToken);
        return entity is not null && IsRegistered(entity) ? ToThing(entity) : null;
    }

    public async Task<bool> ExistsAsync(string thingName, CancellationToken cancellationToken)
        => await GetAsync(thingName, cancellationToken) is not null;

    /// <summary>UpdateThing: type, attributes (merged or replaced), optimistic <c>expectedVersion</c>.</summary>
    async Task<Thing> UpdateCoreAsync(string thingName, UpdateThingRequest request, CancellationToken cancellationToken)
    {
        RegistryNames.RequireThingName(thingName);
        if (request.ThingTypeName is not null)
        {
            if (request.RemoveThingType)
            {
                throw RegistryException.Invalid("thingTypeName and removeThingType cannot both be given.");
            }
            RegistryNames.RequireThingTypeName(request.ThingTypeName, "thingTypeName");
        }
        if (request.Attributes is not null)
        {
            RegistryNames.RequireAttributes(request.Attributes, "attributePayload.attributes");
        }
        var table = await tables.GetTableAsync(TableNames.Things, cancellationToken);
        var typeChecked = false;
        while (true)
        {
            var entity = await GetEntityAsync(table, thingName, cancellationToken);
            if (entity is null || !IsRegistered(entity))
            {
                throw NotFound(thingName);
            }
            var version = entity.GetInt64("Version") ?? 1;
            if (request.ExpectedVersion is { } expected && expected != version)
            {
                throw new RegistryException(RegistryError.VersionConflict, $"Thing '{thingName}' is at version {version}, not the expected version {expected}.");
            }
            var currentType = entity.GetString("ThingTypeName");
            var newType = request.RemoveThingType ? null : request.ThingTypeName ?? currentType;
            if (newType is not null && newType != currentType && !typeChecked)
            {
                await _types.RequireUsableAsync(newType, cancellationToken);
                typeChecked = true;
            }
            var attributes = AttributeColumns.Read(entity);
            if (request.Attributes is not null)
            {
                attributes = AttributeColumns.Apply(attributes, request.Attributes, request.Merge);
            }
            RegistryNames.RequireAttributeCount(attributes.Count, newType is not null);
            entity["ThingTypeName"] = newType;
            entity["Version"] = version + 1;
            AttributeColumns.Write(entity, attributes);
            try
            {
                await table.UpdateEntityAsync(entity, entity.ETag, TableUpdateMode.Replace, cancellationToken);
                return ToThing(entity);
            }
            catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
            {
                // Changed (connectivity, a rival update) or deleted meanwhile: decide again.
            }
        }
    }

    /// <summary>
    /// Deletes the thing and its group memberships. Deleting a thing that does not exist succeeds
    /// (false), as on AWS; a stale <paramref name="expectedVersion"/> is a VersionConflict.
    /// </summary>
    async Task<bool> DeleteCoreAsync(string thingName, long? expectedVersion, CancellationToken cancellationToken)
    {
        RegistryNames.RequireThingName(thingName);
        var table = await tables.GetTableAsync(TableNames.Things, cancellationToken);
        while (true)
        {
            var entity = await GetEntityAsync(table, thingName, cancellationToken);
            if (entity is null || !IsRegistered(entity))
            {
                return false;
            }
            var version = entity.GetInt64("Version") ?? 1;
            if (expectedVersion is { } expected && expected != version)
            {
                throw new RegistryException(RegistryError.VersionConflict, $"Thing '{thingName}' is at version {version}, not the expected version {expected}.");
            }
            try
            {
                await table.DeleteEntityAsync(entity, entity.ETag, cancellationToken);
                break;
            }
            catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
            {
            }
        }
        await ThingGroupStore.RemoveAllMembershipsAsync(tables, thingName, cancellationToken);
        return true;
    }

    /// <summary>ListThings with its filters. A page may hold fewer than maxResults things and still have a next token.</summary>
    public async Task<ListPage<ThingSummary>> ListAsync(ThingQuery query, CancellationToken cancellationToken)
    {
        if (query.ThingTypeName is not null)
        {
            RegistryNames.RequireThingTypeName(query.ThingTypeName, "thingTypeName");
        }
        if (query.AttributeValue is not null && query.AttributeName is null)
        {
            throw RegistryException.Invalid("attributeValue needs attributeName.");
        }
        if (query.AttributeName is not null && !RegistryNames.IsValidAttributeName(query.AttributeName))
        {
            throw RegistryException.Invalid($"Invalid attributeName '{query.AttributeName}': it must match [a-zA-Z0-9_.,@/:#-]{{1,128}}.");
        }
        if (query.AttributeValue is not null && !RegistryNames.IsValidAttributeValue(query.AttributeValue))
        {
            throw RegistryException.Invalid($"Invalid attributeValue: it must match [a-zA-Z0-9_.,@/:#=\\[\\]-]{{0,800}}.");
        }
        var things = await tables.GetTableAsync(TableNames.Things, cancellationToken);
        if (query.ThingGroupName is not null)
        {
            RegistryNames.RequireThingGroupName(query.ThingGroupName, "thingGroupName");
            await ThingGroupStore.RequireGroupAsync(tables, query.ThingGroupName, cancellationToken);
            var members = await tables.GetTableAsync(RegistryTables.ThingsByGroup, cancellationToken);
            var (rows, next) = await PageTokens.QueryPageAsync(
                members, TableClient.CreateQueryFilter($"PartitionKey eq {query.ThingGroupName}"), ["RowKey"],
                $"things|group|{query.ThingGroupName}|{query.ThingTypeName}|{query.AttributeName}|{query.AttributeValue}", query.MaxResults, query.NextToken, cancellationToken);
            var found = await Task.WhenAll(rows.Select(r => GetEntityAsync(things, r.RowKey, cancellationToken)));
            var matching = found.Where(e => e is not null && IsRegistered(e) && Matches(e, query)).Select(e => ToSummary(e!));
            return new ListPage<ThingSummary>([.. matching], next);
        }
        var filter = TableClient.CreateQueryFilter($"Registered eq {true}");
        if (query.ThingTypeName is not null)
        {
            filter += " and " + TableClient.CreateQueryFilter($"ThingTypeName eq {query.ThingTypeName}");
        }
        if (query.AttributeName is not null)
        {
            var column = AttributeColumns.ValueColumn(query.AttributeName);
            filter += query.AttributeValue is null
                ? $" and {column} ge ''"
                : $" and {column} eq " + TableClient.CreateQueryFilter($"{query.AttributeValue}");
        }
        var (entities, nextToken) = await PageTokens.QueryPageAsync(things, filter, null, "things|" + filter, query.MaxResults, query.NextToken, cancellationToken);
        return new ListPage<ThingSummary>([.. entities.Select(ToSummary)], nextToken);
    }

    /// <summary>
    /// Records a connected/disconnected event on a registered thing. Events for client ids that are
    /// not registered things are not stored (<see cref="LifecycleEventOutcome.UnknownThing"/>).
    /// </summary>
    public async Task<LifecycleEventOutcome> ApplyLifecycleEventAsync(LifecycleEvent e, CancellationToken cancellationToken)
    {
        if (!ThingName.IsValid(e.ClientId))
        {
            return LifecycleEventOutcome.UnknownThing;
        }
        var connected = e.EventType == LifecycleEventTypes.Connected;
        var table = await tables.GetTableAsync(TableNames.Things, cancellationToken);
        for (var attempt = 0; ; attempt++)
        {
            var entity = await GetEntityAsync(table, e.ClientId, cancellationToken);
            if (entity is null || !IsRegistered(entity))
            {
                return LifecycleEventOutcome.UnknownThing;
            }
            if (!IsNewer(e, connected, entity))
            {
                return LifecycleEventOutcome.Outdated;
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
                await table.UpdateEntityAsync(entity, entity.ETag, TableUpdateMode.Replace, cancellationToken);
                return LifecycleEventOutcome.Applied;
            }
            catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
            {
                // Lost a race (or the thing was deleted): read again and re-decide. This ends: every
                // lost race stored a newer state or removed the thing, and then the loop returns.
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

    static async Task<TableEntity?> GetEntityAsync(TableClient table, string thingName, CancellationToken cancellationToken)
    {
        var result = await table.GetEntityIfExistsAsync<TableEntity>(thingName, Row, cancellationToken: cancellationToken);
        return result.HasValue ? result.Value : null;
    }

    static bool IsRegistered(TableEntity entity) => entity.GetBoolean("Registered") == true;

    static bool Matches(TableEntity entity, ThingQuery query)
    {
        if (query.ThingTypeName is not null && entity.GetString("ThingTypeName") != query.ThingTypeName)
        {
            return false;
        }
        if (query.AttributeName is not null)
        {
            var value = entity.GetString(AttributeColumns.ValueColumn(query.AttributeName));
            return value is not null && (query.AttributeValue is null || value == query.AttributeValue);
        }
        return true;
    }

    static Dictionary<string, string> WithoutEmpty(IReadOnlyDictionary<string, string> attributes)
        => attributes.Where(a => a.Value.Length > 0).ToDictionary(a => a.Key, a => a.Value, StringComparer.Ordinal);

    static bool SameAttributes(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b)
        => a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v == kv.Value);

    static RegistryException NotFound(string thingName) => RegistryException.NotFound($"Thing '{thingName}' does not exist.");

    Thing ToThing(TableEntity entity) => new()
    {
        ThingName = entity.PartitionKey,
        ThingId = entity.GetString("ThingId") ?? "",
        ThingArn = _arns.Thing(entity.PartitionKey),
        ThingTypeName = entity.GetString("ThingTypeName"),
        Attributes = AttributeColumns.Read(entity),
        Version = entity.GetInt64("Version") ?? 1,
        Connectivity = new ThingConnectivity(
            entity.GetBoolean("Connected") ?? false,
            entity.GetInt64("ConnectivityTimestamp") ?? 0,
            entity.GetString("DisconnectReason")),
    };

    ThingSummary ToSummary(TableEntity entity) => new(
        entity.PartitionKey,
        entity.GetString("ThingTypeName"),
        _arns.Thing(entity.PartitionKey),
        AttributeColumns.Read(entity),
        entity.GetInt64("Version") ?? 1);

    public async Task<Thing> UpdateAsync(string thingName, UpdateThingRequest request, CancellationToken cancellationToken)
    {
        var result = await UpdateCoreAsync(thingName, request, cancellationToken);
        await NotifyAsync(IdentityChangeKinds.Thing, thingName, cancellationToken);
        return result;
    }

    public async Task<bool> DeleteAsync(string thingName, long? expectedVersion, CancellationToken cancellationToken)
    {
        var result = await DeleteCoreAsync(thingName, expectedVersion, cancellationToken);
        await NotifyAsync(IdentityChangeKinds.Thing, thingName, cancellationToken);
        return result;
    }

    /// <summary>Tells the brokers (identity change feed) that what this thing's or group's policies grant may have changed.</summary>
    Task NotifyAsync(string kind, string key, CancellationToken cancellationToken)
        => changes?.AppendAsync(kind, key, cancellationToken) ?? Task.CompletedTask;
}
