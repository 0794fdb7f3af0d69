using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using IoTServerless.Core.Security.Changes;
using IoTServerless.Core.Storage;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Registry;

/// <summary>
/// Thing groups and membership in Table storage.
/// <list type="bullet">
/// <item><see cref="RegistryTables.ThingGroups"/>: partition = group name, row = "". A group's parent
/// never changes, so the entity holds its root-to-parent path (and a <c>G_{hash}</c> marker per
/// ancestor, so "all descendants of X" is one filtered query).</item>
/// <item><see cref="RegistryTables.ThingGroupsByThing"/>: partition = thing, row = group, holding the
/// group's root-to-parent path: a thing's groups and all their ancestors are one partition read.</item>
/// <item><see cref="RegistryTables.ThingsByGroup"/>: partition = group, row = thing (the group's members).</item>
/// </list>
/// A membership is written thing-side first and removed thing-side first, so a half-done change
/// never grants more inherited policy than intended.
/// </summary>
public sealed class ThingGroupStore(TableClientProvider tables, TimeProvider? time = null, IOptions<PlatformOptions>? platform = null, IdentityChangeFeed? changes = null)
{
    /// <summary>AWS: a group hierarchy is at most 7 levels deep.</summary>
    public const int MaxDepth = 7;

    /// <summary>AWS: a thing belongs to at most 10 groups.</summary>
    public const int MaxGroupsPerThing = 10;

    const string Row = "";
    readonly TimeProvider _time = time ?? TimeProvider.System;
    readonly RegistryArns _arns = platform is null ? RegistryArns.Default : new RegistryArns(platform.Value);

    public async Task<CreateThingGroupResult> CreateAsync(string thingGroupName, CreateThingGroupRequest request, CancellationToken cancellationToken)
    {
        RegistryNames.RequireThingGroupName(thingGroupName);
        if (request.ParentGroupName is not null)
        {
            RegistryNames.RequireThingGroupName(request.ParentGroupName, "parentGroupName");
            if (request.ParentGroupName == thingGroupName)
            {
                throw RegistryException.Invalid($"Thing group '{thingGroupName}' cannot be its own parent.");
            }
        }
        if (request.ThingGroupDescription is not null && !RegistryNames.IsValidDescription(request.ThingGroupDescription))
        {
            throw RegistryException.Invalid($"Invalid thingGroupProperties.thingGroupDescription: at most {RegistryNames.MaxDescriptionLength} printable characters.");
        }
        RegistryNames.RequireAttributes(request.Attributes, "thingGroupProperties.attributePayload.attributes");
        var attributes = request.Attributes.Where(a => a.Value.Length > 0).ToDictionary(a => a.Key, a => a.Value, StringComparer.Ordinal);
        if (attributes.Count > RegistryNames.MaxAttributesWithType)
        {
            throw RegistryException.Invalid($"Too many attributes: {attributes.Count}; a thing group has at most {RegistryNames.MaxAttributesWithType}.");
        }
        var table = await tables.GetTableAsync(RegistryTables.ThingGroups, cancellationToken);
        List<string> path = [];
        if (request.ParentGroupName is not null)
        {
            var parent = await GetEntityAsync(table, request.ParentGroupName, cancellationToken)
                ?? throw RegistryException.NotFound($"Parent thing group '{request.ParentGroupName}' does not exist.");
            path = [.. PathOf(parent), request.ParentGroupName];
            if (path.Count + 1 > MaxDepth)
            {
                throw RegistryException.Invalid($"Thing group '{thingGroupName}' would be at depth {path.Count + 1} under '{request.ParentGroupName}'; a group hierarchy is at most {MaxDepth} levels deep.");
            }
        }
        var entity = new TableEntity(thingGroupName, Row)
        {
            ["ThingGroupId"] = Guid.NewGuid().ToString(),
            ["ParentGroupName"] = request.ParentGroupName,
            ["RootToParent"] = JsonSerializer.Serialize(path),
            ["Description"] = request.ThingGroupDescription,
            ["Version"] = 1L,
            ["CreationDate"] = _time.GetUtcNow(),
        };
        foreach (var ancestor in path)
        {
            entity[AncestorColumn(ancestor)] = true;
        }
        AttributeColumns.Write(entity, attributes);
        try
        {
            await table.AddEntityAsync(entity, cancellationToken);
            return new CreateThingGroupResult(thingGroupName, _arns.ThingGroup(thingGroupName), entity.GetString("ThingGroupId"));
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
        {
            var existing = await GetEntityAsync(table, thingGroupName, cancellationToken)
                ?? throw new RegistryException(RegistryError.ResourceAlreadyExists, $"Thing group '{thingGroupName}' is being created or deleted concurrently.");
            var stored = AttributeColumns.Read(existing);
            if (existing.GetString("ParentGroupName") == request.ParentGroupName
                && existing.GetString("Description") == request.ThingGroupDescription
                && stored.Count == attributes.Count && stored.All(a => attributes.TryGetValue(a.Key, out var v) && v == a.Value))
            {
                return new CreateThingGroupResult(thingGroupName, _arns.ThingGroup(thingGroupName), existing.GetString("ThingGroupId")!);
            }
            throw new RegistryException(RegistryError.ResourceAlreadyExists, $"Thing group '{thingGroupName}' already exists with a different parent or properties.");
        }
    }

    /// <summary>
    /// UpdateThingGroup: the description and attributes (merged or replaced), with an optimistic
    /// <c>expectedVersion</c>. The parent never changes (AWS has no operation for that either).
    /// </summary>
    public async Task<UpdateThingGroupResult> UpdateAsync(string thingGroupName, UpdateThingGroupRequest request, CancellationToken cancellationToken)
    {
        RegistryNames.RequireThingGroupName(thingGroupName);
        if (request.ThingGroupDescription is not null && !RegistryNames.IsValidDescription(request.ThingGroupDescription))
        {
            throw RegistryException.Invalid($"Invalid thingGroupProperties.thingGroupDescription: at most {RegistryNames.MaxDescriptionLength} printable characters.");
        }
        if (request.Attributes is not null)
        {
            RegistryNames.RequireAttributes(request.Attributes, "thingGroupProperties.attributePayload.attributes");
        }
        var table = await tables.GetTableAsync(RegistryTables.ThingGroups, cancellationToken);
        while (true)
        {
            var entity = await GetEntityAsync(table, thingGroupName, cancellationToken) ?? throw GroupNotFound(thingGroupName);
            var version = entity.GetInt64("Version") ?? 1;
            if (request.ExpectedVersion is { } expected && expected != version)
            {
                throw new RegistryException(RegistryError.VersionConflict, $"Thing group '{thingGroupName}' is at version {version}, not the expected version {expected}.");
            }
            if (request.Attributes is not null)
            {
                var attributes = AttributeColumns.Apply(AttributeColumns.Read(entity), request.Attributes, request.Merge);
                if (attributes.Count > RegistryNames.MaxAttributesWithType)
                {
                    throw RegistryException.Invalid($"Too many attributes: {attributes.Count}; a thing group has at most {RegistryNames.MaxAttributesWithType}.");
                }
                AttributeColumns.Write(entity, attributes);
            }
            if (request.ThingGroupDescription is not null)
            {
                entity["Description"] = request.ThingGroupDescription;
            }
            entity["Version"] = version + 1;
            try
            {
                await table.UpdateEntityAsync(entity, entity.ETag, TableUpdateMode.Replace, cancellationToken);
                return new UpdateThingGroupResult(version + 1);
            }
            catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
            {
                // A rival update or a delete won the race: decide again on what is stored now.
            }
        }
    }

    public async Task<ThingGroup?> GetAsync(string thingGroupName, CancellationToken cancellationToken)
    {
        RegistryNames.RequireThingGroupName(thingGroupName);
        var table = await tables.GetTableAsync(RegistryTables.ThingGroups, cancellationToken);
        var entity = await GetEntityAsync(table, thingGroupName, cancellationToken);
        if (entity is null)
        {
            return null;
        }
        return new ThingGroup(
            thingGroupName,
            entity.GetString("ThingGroupId") ?? "",
            _arns.ThingGroup(thingGroupName),
            entity.GetInt64("Version") ?? 1,
            new ThingGroupProperties(entity.GetString("Description"), new AttributePayload(AttributeColumns.Read(entity))),
            new ThingGroupMetadata(
                entity.GetString("ParentGroupName"),
                [.. PathOf(entity).Select(_arns.Group)],
                ThingTypeStore.EpochSeconds(entity.GetDateTimeOffset("CreationDate")) ?? 0));
    }

    /// <summary>
    /// ListThingGroups: all groups; with <paramref name="parentGroup"/> its children, or with
    /// <paramref name="recursive"/> all its descendants.
    /// </summary>
    public async Task<ListPage<GroupNameAndArn>> ListAsync(string? parentGroup, bool recursive, int? maxResults, string? nextToken, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(RegistryTables.ThingGroups, cancellationToken);
        string? filter = null;
        if (parentGroup is not null)
        {
            RegistryNames.RequireThingGroupName(parentGroup, "parentGroup");
            await RequireGroupAsync(tables, parentGroup, cancellationToken);
            filter = recursive
                ? $"{AncestorColumn(parentGroup)} eq true"
                : TableClient.CreateQueryFilter($"ParentGroupName eq {parentGroup}");
        }
        var (entities, next) = await PageTokens.QueryPageAsync(table, filter, ["PartitionKey"], "thing-groups|" + filter, maxResults, nextToken, cancellationToken);
        return new ListPage<GroupNameAndArn>([.. entities.Select(e => _arns.Group(e.PartitionKey))], next);
    }

    /// <summary>
    /// Deletes the group and its memberships; a group with child groups is a DeleteConflict.
    /// Deleting a group that does not exist succeeds (false), as on AWS.
    /// </summary>
    async Task<bool> DeleteCoreAsync(string thingGroupName, CancellationToken cancellationToken)
    {
        RegistryNames.RequireThingGroupName(thingGroupName);
        var table = await tables.GetTableAsync(RegistryTables.ThingGroups, cancellationToken);
        if (await GetEntityAsync(table, thingGroupName, cancellationToken) is null)
        {
            return false;
        }
        await foreach (var _ in table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"ParentGroupName eq {thingGroupName}"), 1, ["PartitionKey"], cancellationToken))
        {
            throw new RegistryException(RegistryError.DeleteConflict, $"Thing group '{thingGroupName}' has child groups; delete them first.");
        }
        var byGroup = await tables.GetTableAsync(RegistryTables.ThingsByGroup, cancellationToken);
        var byThing = await tables.GetTableAsync(RegistryTables.ThingGroupsByThing, cancellationToken);
        await foreach (var member in byGroup.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {thingGroupName}"), 1000, ["PartitionKey", "RowKey"], cancellationToken))
        {
            await DeleteIfExistsAsync(byThing, member.RowKey, thingGroupName, cancellationToken);
            await DeleteIfExistsAsync(byGroup, thingGroupName, member.RowKey, cancellationToken);
        }
        await DeleteIfExistsAsync(table, thingGroupName, Row, cancellationToken);
        return true;
    }

    /// <summary>AddThingToThingGroup; idempotent. A thing is in at most <see cref="MaxGroupsPerThing"/> groups.</summary>
    async Task AddThingCoreAsync(string thingGroupName, string thingName, CancellationToken cancellationToken)
    {
        RegistryNames.RequireThingGroupName(thingGroupName, "thingGroupName");
        RegistryNames.RequireThingName(thingName);
        var groups = await tables.GetTableAsync(RegistryTables.ThingGroups, cancellationToken);
        var group = await GetEntityAsync(groups, thingGroupName, cancellationToken) ?? throw GroupNotFound(thingGroupName);
        await RequireThingAsync(thingName, cancellationToken);
        var byThing = await tables.GetTableAsync(RegistryTables.ThingGroupsByThing, cancellationToken);
        var byGroup = await tables.GetTableAsync(RegistryTables.ThingsByGroup, cancellationToken);
        if ((await byThing.GetEntityIfExistsAsync<TableEntity>(thingName, thingGroupName, ["RowKey"], cancellationToken)).HasValue)
        {
            await byGroup.UpsertEntityAsync(new TableEntity(thingGroupName, thingName), TableUpdateMode.Replace, cancellationToken);
            return;
        }
        if (await CountGroupsAsync(byThing, thingName, cancellationToken) >= MaxGroupsPerThing)
        {
            throw LimitExceeded(thingName);
        }
        var membership = new TableEntity(thingName, thingGroupName) { ["RootToParent"] = group.GetString("RootToParent") ?? "[]" };
        await byThing.UpsertEntityAsync(membership, TableUpdateMode.Replace, cancellationToken);
        if (await CountGroupsAsync(byThing, thingName, cancellationToken) > MaxGroupsPerThing)
        {
            // A concurrent add got in too: back out (both may; neither exceeds the limit).
            await DeleteIfExistsAsync(byThing, thingName, thingGroupName, cancellationToken);
            throw LimitExceeded(thingName);
        }
        await byGroup.UpsertEntityAsync(new TableEntity(thingGroupName, thingName), TableUpdateMode.Replace, cancellationToken);
    }

    /// <summary>RemoveThingFromThingGroup; removing a thing that is not a member succeeds.</summary>
    async Task RemoveThingCoreAsync(string thingGroupName, string thingName, CancellationToken cancellationToken)
    {
        RegistryNames.RequireThingGroupName(thingGroupName, "thingGroupName");
        RegistryNames.RequireThingName(thingName);
        await RequireGroupAsync(tables, thingGroupName, cancellationToken);
        await RequireThingAsync(thingName, cancellationToken);
        var byThing = await tables.GetTableAsync(RegistryTables.ThingGroupsByThing, cancellationToken);
        var byGroup = await tables.GetTableAsync(RegistryTables.ThingsByGroup, cancellationToken);
        await DeleteIfExistsAsync(byThing, thingName, thingGroupName, cancellationToken);
        await DeleteIfExistsAsync(byGroup, thingGroupName, thingName, cancellationToken);
    }

    /// <summary>ListThingsInThingGroup: the group's direct members.</summary>
    public async Task<ListPage<string>> ListThingsAsync(string thingGroupName, int? maxResults, string? nextToken, CancellationToken cancellationToken)
    {
        RegistryNames.RequireThingGroupName(thingGroupName);
        await RequireGroupAsync(tables, thingGroupName, cancellationToken);
        var byGroup = await tables.GetTableAsync(RegistryTables.ThingsByGroup, cancellationToken);
        var (rows, next) = await PageTokens.QueryPageAsync(byGroup, TableClient.CreateQueryFilter($"PartitionKey eq {thingGroupName}"), ["RowKey"],
            "things-in-group|" + thingGroupName, maxResults, nextToken, cancellationToken);
        return new ListPage<string>([.. rows.Select(r => r.RowKey)], next);
    }

    /// <summary>ListThingGroupsForThing: the groups the thing is directly in.</summary>
    public async Task<ListPage<GroupNameAndArn>> ListGroupsForThingAsync(string thingName, int? maxResults, string? nextToken, CancellationToken cancellationToken)
    {
        RegistryNames.RequireThingName(thingName);
        await RequireThingAsync(thingName, cancellationToken);
        var byThing = await tables.GetTableAsync(RegistryTables.ThingGroupsByThing, cancellationToken);
        var (rows, next) = await PageTokens.QueryPageAsync(byThing, TableClient.CreateQueryFilter($"PartitionKey eq {thingName}"), ["RowKey"],
            "groups-for-thing|" + thingName, maxResults, nextToken, cancellationToken);
        return new ListPage<GroupNameAndArn>([.. rows.Select(r => _arns.Group(r.RowKey))], next);
    }

    /// <summary>
    /// Every group the thing is in plus all their ancestors (for inherited group policies), each
    /// group after its ancestors (root first), without duplicates; empty for an unknown thing.
    /// One partition read: memberships carry their group's root-to-parent path.
    /// </summary>
    public async Task<IReadOnlyList<string>> GetGroupAncestryForThingAsync(string thingName, CancellationToken cancellationToken)
    {
        if (!ThingName.IsValid(thingName))
        {
            return [];
        }
        var byThing = await tables.GetTableAsync(RegistryTables.ThingGroupsByThing, cancellationToken);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var ancestry = new List<string>();
        await foreach (var row in byThing.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {thingName}"), 1000, ["RowKey", "RootToParent"], cancellationToken))
        {
            foreach (var group in PathOf(row).Append(row.RowKey))
            {
                if (seen.Add(group))
                {
                    ancestry.Add(group);
                }
            }
        }
        return ancestry;
    }

    /// <summary>Removes every membership of the thing (on delete, and before a name is reused).</summary>
    internal static async Task RemoveAllMembershipsAsync(TableClientProvider tables, string thingName, CancellationToken cancellationToken)
    {
        var byThing = await tables.GetTableAsync(RegistryTables.ThingGroupsByThing, cancellationToken);
        var byGroup = await tables.GetTableAsync(RegistryTables.ThingsByGroup, cancellationToken);
        await foreach (var row in byThing.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {thingName}"), 1000, ["PartitionKey", "RowKey"], cancellationToken))
        {
            await DeleteIfExistsAsync(byThing, thingName, row.RowKey, cancellationToken);
            await DeleteIfExistsAsync(byGroup, row.RowKey, thingName, cancellationToken);
        }
    }

    internal static async Task RequireGroupAsync(TableClientProvider tables, string thingGroupName, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(RegistryTables.ThingGroups, cancellationToken);
        if (!(await table.GetEntityIfExistsAsync<TableEntity>(thingGroupName, Row, ["PartitionKey"], cancellationToken)).HasValue)
        {
            throw GroupNotFound(thingGroupName);
        }
    }

    async Task RequireThingAsync(string thingName, CancellationToken cancellationToken)
    {
        var things = await tables.GetTableAsync(TableNames.Things, cancellationToken);
        var thing = await things.GetEntityIfExistsAsync<TableEntity>(thingName, Row, ["Registered"], cancellationToken);
        if (!thing.HasValue || thing.Value!.GetBoolean("Registered") != true)
        {
            throw RegistryException.NotFound($"Thing '{thingName}' does not exist.");
        }
    }

    static async Task<int> CountGroupsAsync(TableClient byThing, string thingName, CancellationToken cancellationToken)
    {
        var count = 0;
        await foreach (var _ in byThing.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {thingName}"), 1000, ["RowKey"], cancellationToken))
        {
            count++;
        }
        return count;
    }

    static async Task<TableEntity?> GetEntityAsync(TableClient table, string name, CancellationToken cancellationToken)
    {
        var result = await table.GetEntityIfExistsAsync<TableEntity>(name, Row, cancellationToken: cancellationToken);
        return result.HasValue ? result.Value : null;
    }

    static async Task DeleteIfExistsAsync(TableClient table, string partitionKey, string rowKey, CancellationToken cancellationToken)
    {
        try
        {
            await table.DeleteEntityAsync(partitionKey, rowKey, ETag.All, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.NotFound)
        {
        }
    }

    static IReadOnlyList<string> PathOf(TableEntity entity) => JsonSerializer.Deserialize<string[]>(entity.GetString("RootToParent") ?? "[]") ?? [];

    static string AncestorColumn(string groupName) => "G_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(groupName)))[..32];

    static RegistryException GroupNotFound(string thingGroupName) => RegistryException.NotFound($"Thing group '{thingGroupName}' does not exist.");

    static RegistryException LimitExceeded(string thingName)
        => new(RegistryError.LimitExceeded, $"Thing '{thingName}' is already in {MaxGroupsPerThing} thing groups, the most a thing can be in.");

    public async Task<bool> DeleteAsync(string thingGroupName, CancellationToken cancellationToken)
    {
        var result = await DeleteCoreAsync(thingGroupName, cancellationToken);
        await NotifyAsync(IdentityChangeKinds.ThingGroup, thingGroupName, cancellationToken);
        return result;
    }

    public async Task AddThingAsync(string thingGroupName, string thingName, CancellationToken cancellationToken)
    {
        await AddThingCoreAsync(thingGroupName, thingName, cancellationToken);
        await NotifyAsync(IdentityChangeKinds.Thing, thingName, cancellationToken);
    }

    public async Task RemoveThingAsync(string thingGroupName, string thingName, CancellationToken cancellationToken)
    {
        await RemoveThingCoreAsync(thingGroupName, thingName, cancellationToken);
        await NotifyAsync(IdentityChangeKinds.Thing, thingName, cancellationToken);
    }

    /// <summary>Tells the brokers (identity change feed) that what this thing's or group's policies grant may have changed.</summary>
    Task NotifyAsync(string kind, string key, CancellationToken cancellationToken)
        => changes?.AppendAsync(kind, key, cancellationToken) ?? Task.CompletedTask;
}
