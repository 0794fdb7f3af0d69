using System.Net;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using IoTServerless.Core.Storage;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Registry;

/// <summary>
/// Thing types in Table storage: one entity per type (partition = type name, row = ""). A type is
/// deprecated before it can be deleted, and a deprecated type cannot be given to a thing.
/// </summary>
public sealed class ThingTypeStore(TableClientProvider tables, TimeProvider? time = null, IOptions<PlatformOptions>? platform = null)
{
    const string Row = "";
    readonly RegistryArns _arns = platform is null ? RegistryArns.Default : new RegistryArns(platform.Value);
    readonly TimeProvider _time = time ?? TimeProvider.System;

    public async Task<CreateThingTypeResult> CreateAsync(string thingTypeName, CreateThingTypeRequest request, CancellationToken cancellationToken)
    {
        RegistryNames.RequireThingTypeName(thingTypeName);
        if (request.ThingTypeDescription is not null && !RegistryNames.IsValidDescription(request.ThingTypeDescription))
        {
            throw RegistryException.Invalid($"Invalid thingTypeProperties.thingTypeDescription: at most {RegistryNames.MaxDescriptionLength} printable characters.");
        }
        if (request.SearchableAttributes.Count > RegistryNames.MaxSearchableAttributes)
        {
            throw RegistryException.Invalid($"Too many thingTypeProperties.searchableAttributes: {request.SearchableAttributes.Count}; at most {RegistryNames.MaxSearchableAttributes}.");
        }
        foreach (var name in request.SearchableAttributes)
        {
            if (!RegistryNames.IsValidAttributeName(name))
            {
                throw RegistryException.Invalid($"Invalid attribute name '{name}' in thingTypeProperties.searchableAttributes: it must match [a-zA-Z0-9_.,@/:#-]{{1,128}}.");
            }
        }
        var table = await tables.GetTableAsync(RegistryTables.ThingTypes, cancellationToken);
        var entity = new TableEntity(thingTypeName, Row)
        {
            ["ThingTypeId"] = Guid.NewGuid().ToString(),
            ["Description"] = request.ThingTypeDescription,
            ["SearchableAttributes"] = JsonSerializer.Serialize(request.SearchableAttributes),
            ["Deprecated"] = false,
            ["CreationDate"] = _time.GetUtcNow(),
        };
        try
        {
            await table.AddEntityAsync(entity, cancellationToken);
            return new CreateThingTypeResult(thingTypeName, _arns.ThingType(thingTypeName), entity.GetString("ThingTypeId"));
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
        {
            var existing = (await GetEntityAsync(thingTypeName, cancellationToken))
                ?? throw new RegistryException(RegistryError.ResourceAlreadyExists, $"Thing type '{thingTypeName}' is being created or deleted concurrently.");
            var stored = ToThingType(existing);
            if (stored.ThingTypeProperties.ThingTypeDescription == request.ThingTypeDescription
                && stored.ThingTypeProperties.SearchableAttributes.SequenceEqual(request.SearchableAttributes, StringComparer.Ordinal))
            {
                return new CreateThingTypeResult(thingTypeName, stored.ThingTypeArn, stored.ThingTypeId);
            }
            throw new RegistryException(RegistryError.ResourceAlreadyExists, $"Thing type '{thingTypeName}' already exists with different properties.");
        }
    }

    public async Task<ThingType?> GetAsync(string thingTypeName, CancellationToken cancellationToken)
    {
        RegistryNames.RequireThingTypeName(thingTypeName);
        var entity = await GetEntityAsync(thingTypeName, cancellationToken);
        return entity is null ? null : ToThingType(entity);
    }

    public async Task<ListPage<ThingType>> ListAsync(int? maxResults, string? nextToken, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(RegistryTables.ThingTypes, cancellationToken);
        var (entities, next) = await PageTokens.QueryPageAsync(table, null, null, "thing-types", maxResults, nextToken, cancellationToken);
        return new ListPage<ThingType>([.. entities.Select(ToThingType)], next);
    }

    /// <summary>Deprecates the type, or with <paramref name="undo"/> makes it usable again.</summary>
    public async Task DeprecateAsync(string thingTypeName, bool undo, CancellationToken cancellationToken)
    {
        RegistryNames.RequireThingTypeName(thingTypeName);
        var table = await tables.GetTableAsync(RegistryTables.ThingTypes, cancellationToken);
        var entity = await GetEntityAsync(thingTypeName, cancellationToken) ?? throw NotFound(thingTypeName);
        entity["Deprecated"] = !undo;
        entity["DeprecationDate"] = undo ? null : _time.GetUtcNow();
        try
        {
            await table.UpdateEntityAsync(entity, ETag.All, TableUpdateMode.Replace, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.NotFound)
        {
            throw NotFound(thingTypeName);
        }
    }

    /// <summary>Deletes a deprecated type that no thing uses; otherwise a DeleteConflict.</summary>
    public async Task DeleteAsync(string thingTypeName, CancellationToken cancellationToken)
    {
        RegistryNames.RequireThingTypeName(thingTypeName);
        var table = await tables.GetTableAsync(RegistryTables.ThingTypes, cancellationToken);
        var entity = await GetEntityAsync(thingTypeName, cancellationToken) ?? throw NotFound(thingTypeName);
        if (entity.GetBoolean("Deprecated") != true)
        {
            throw new RegistryException(RegistryError.DeleteConflict, $"Thing type '{thingTypeName}' is not deprecated; deprecate it before deleting it.");
        }
        var things = await tables.GetTableAsync(TableNames.Things, cancellationToken);
        var filter = TableClient.CreateQueryFilter($"Registered eq {true} and ThingTypeName eq {thingTypeName}");
        await foreach (var _ in things.QueryAsync<TableEntity>(filter, 1, ["PartitionKey"], cancellationToken))
        {
            throw new RegistryException(RegistryError.DeleteConflict, $"Thing type '{thingTypeName}' is still used by things; remove it from them first.");
        }
        try
        {
            // The ETag: a type undeprecated meanwhile stays.
            await table.DeleteEntityAsync(entity, entity.ETag, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.PreconditionFailed)
        {
            throw new RegistryException(RegistryError.DeleteConflict, $"Thing type '{thingTypeName}' changed while it was being deleted; try again.");
        }
    }

    /// <summary>Throws unless the type exists and is not deprecated (AWS's rule for giving a thing a type).</summary>
    internal async Task RequireUsableAsync(string thingTypeName, CancellationToken cancellationToken)
    {
        RegistryNames.RequireThingTypeName(thingTypeName, "thingTypeName");
        var entity = await GetEntityAsync(thingTypeName, cancellationToken) ?? throw NotFound(thingTypeName);
        if (entity.GetBoolean("Deprecated") == true)
        {
            throw RegistryException.Invalid($"Thing type '{thingTypeName}' is deprecated; a thing cannot be given a deprecated thing type.");
        }
    }

    async Task<TableEntity?> GetEntityAsync(string thingTypeName, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(RegistryTables.ThingTypes, cancellationToken);
        var result = await table.GetEntityIfExistsAsync<TableEntity>(thingTypeName, Row, cancellationToken: cancellationToken);
        return result.HasValue ? result.Value : null;
    }

    static RegistryException NotFound(string thingTypeName) => RegistryException.NotFound($"Thing type '{thingTypeName}' does not exist.");

    ThingType ToThingType(TableEntity entity) => new(
        entity.PartitionKey,
        entity.GetString("ThingTypeId") ?? "",
        _arns.ThingType(entity.PartitionKey),
        new ThingTypeProperties(
            entity.GetString("Description"),
            JsonSerializer.Deserialize<string[]>(entity.GetString("SearchableAttributes") ?? "[]") ?? []),
        new ThingTypeMetadata(
            entity.GetBoolean("Deprecated") ?? false,
            EpochSeconds(entity.GetDateTimeOffset("DeprecationDate")),
            EpochSeconds(entity.GetDateTimeOffset("CreationDate")) ?? 0));

    internal static double? EpochSeconds(DateTimeOffset? date) => date is { } d ? d.ToUnixTimeMilliseconds() / 1000.0 : null;
}
