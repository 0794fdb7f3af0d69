using System.Collections.Concurrent;
using Azure.Data.Tables;
using Azure.Identity;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Storage;

/// <summary>Hands out table clients, creating each table once per process on first use.</summary>
public sealed class TableClientProvider
{
    readonly TableServiceClient _service;
    readonly ConcurrentDictionary<string, Lazy<Task<TableClient>>> _tables = new(StringComparer.Ordinal);

    public TableClientProvider(IOptions<TableStorageOptions> options)
    {
        var o = options.Value;
        if (!string.IsNullOrEmpty(o.ConnectionString))
        {
            _service = new TableServiceClient(o.ConnectionString);
        }
        else if (o.TableServiceUri is not null)
        {
            var credential = new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = string.IsNullOrEmpty(o.ManagedIdentityClientId) ? null : o.ManagedIdentityClientId });
            _service = new TableServiceClient(o.TableServiceUri, credential);
        }
        else
        {
            throw new OptionsValidationException(TableStorageOptions.SectionName, typeof(TableStorageOptions), [$"Set {TableStorageOptions.SectionName}:ConnectionString or {TableStorageOptions.SectionName}:TableServiceUri."]);
        }
    }

    public Task<TableClient> GetTableAsync(string name, CancellationToken cancellationToken)
        => _tables.GetOrAdd(name, n => new Lazy<Task<TableClient>>(() => CreateAsync(n, cancellationToken))).Value;

    async Task<TableClient> CreateAsync(string name, CancellationToken cancellationToken)
    {
        var table = _service.GetTableClient(name);
        try
        {
            await table.CreateIfNotExistsAsync(cancellationToken);
        }
        catch
        {
            _tables.TryRemove(name, out _);
            throw;
        }
        return table;
    }
}
