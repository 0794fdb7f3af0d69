using Azure;
using Azure.Data.Tables;
using IoTServerless.Core.Storage;

namespace IoTServerless.Core.Security.Certificates;

/// <summary>
/// Device and CA certificates in Table storage, one entity per certificate keyed by its id
/// (partition = id): the broker's lookup on CONNECT is a point read.
/// </summary>
public sealed class CertificateStore(TableClientProvider tables)
{
    public const string DeviceTable = "Certificates";
    public const string CaTable = "CaCertificates";
    const string Row = "";

    public async Task AddAsync(DeviceCertificate c, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(DeviceTable, cancellationToken);
        var entity = new TableEntity(c.CertificateId, Row)
        {
            ["Status"] = c.Status,
            ["CertificatePem"] = c.CertificatePem,
            ["CaCertificateId"] = c.CaCertificateId,
            ["CreationDate"] = c.CreationDate,
            ["LastModifiedDate"] = c.LastModifiedDate,
            ["NotBefore"] = c.NotBefore,
            ["NotAfter"] = c.NotAfter,
            ["Subject"] = c.Subject,
            ["Issuer"] = c.Issuer,
            ["SerialNumber"] = c.SerialNumber,
        };
        try
        {
            await table.AddEntityAsync(entity, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            throw CertificateException.AlreadyExists($"Certificate {c.CertificateId} is already registered.");
        }
    }

    public async Task<DeviceCertificate?> GetAsync(string certificateId, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(DeviceTable, cancellationToken);
        var result = await table.GetEntityIfExistsAsync<TableEntity>(certificateId, Row, cancellationToken: cancellationToken);
        return result.HasValue ? ToDevice(result.Value!) : null;
    }

    /// <summary>Sets the status if the stored certificate still has <paramref name="etag"/>; false when it changed meanwhile.</summary>
    public async Task<bool> TrySetStatusAsync(string certificateId, string status, string etag, DateTimeOffset now, CancellationToken cancellationToken)
        => await TrySetStatusAsync(DeviceTable, certificateId, status, etag, now, cancellationToken);

    public async Task<bool> TryDeleteAsync(string certificateId, string etag, CancellationToken cancellationToken)
        => await TryDeleteAsync(DeviceTable, certificateId, etag, cancellationToken);

    public async Task<(IReadOnlyList<DeviceCertificate> Items, string? Next)> ListAsync(int pageSize, string? continuation, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(DeviceTable, cancellationToken);
        await foreach (var page in table.QueryAsync<TableEntity>(maxPerPage: pageSize, cancellationToken: cancellationToken).AsPages(continuation, pageSize))
        {
            return ([.. page.Values.Select(ToDevice)], page.ContinuationToken);
        }
        return ([], null);
    }

    public async Task AddCaAsync(CaCertificate c, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(CaTable, cancellationToken);
        var entity = new TableEntity(c.CertificateId, Row)
        {
            ["Status"] = c.Status,
            ["CertificatePem"] = c.CertificatePem,
            ["AutoRegistration"] = c.AutoRegistration,
            ["CreationDate"] = c.CreationDate,
            ["LastModifiedDate"] = c.LastModifiedDate,
            ["NotBefore"] = c.NotBefore,
            ["NotAfter"] = c.NotAfter,
            ["Subject"] = c.Subject,
        };
        try
        {
            await table.AddEntityAsync(entity, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            throw CertificateException.AlreadyExists($"CA certificate {c.CertificateId} is already registered.");
        }
    }

    public async Task<CaCertificate?> GetCaAsync(string certificateId, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(CaTable, cancellationToken);
        var result = await table.GetEntityIfExistsAsync<TableEntity>(certificateId, Row, cancellationToken: cancellationToken);
        return result.HasValue ? ToCa(result.Value!) : null;
    }

    /// <summary>Every registered CA (an account holds a handful; AWS allows 10 per subject).</summary>
    public async Task<IReadOnlyList<CaCertificate>> ListCasAsync(CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(CaTable, cancellationToken);
        var list = new List<CaCertificate>();
        await foreach (var e in table.QueryAsync<TableEntity>(cancellationToken: cancellationToken))
        {
            list.Add(ToCa(e));
        }
        return list;
    }

    public Task<bool> TrySetCaStatusAsync(string certificateId, string status, string etag, DateTimeOffset now, CancellationToken cancellationToken)
        => TrySetStatusAsync(CaTable, certificateId, status, etag, now, cancellationToken);

    public Task<bool> TryDeleteCaAsync(string certificateId, string etag, CancellationToken cancellationToken)
        => TryDeleteAsync(CaTable, certificateId, etag, cancellationToken);

    async Task<bool> TrySetStatusAsync(string tableName, string certificateId, string status, string etag, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(tableName, cancellationToken);
        var patch = new TableEntity(certificateId, Row) { ["Status"] = status, ["LastModifiedDate"] = now };
        try
        {
            await table.UpdateEntityAsync(patch, new ETag(etag), TableUpdateMode.Merge, cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is 412 or 404)
        {
            return false;
        }
    }

    async Task<bool> TryDeleteAsync(string tableName, string certificateId, string etag, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(tableName, cancellationToken);
        try
        {
            await table.DeleteEntityAsync(certificateId, Row, new ETag(etag), cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 412)
        {
            return false;
        }
    }

    static DeviceCertificate ToDevice(TableEntity e) => new(
        e.PartitionKey, e.GetString("Status")!, e.GetString("CertificatePem")!, e.GetString("CaCertificateId"),
        e.GetDateTimeOffset("CreationDate") ?? default, e.GetDateTimeOffset("LastModifiedDate") ?? default,
        e.GetDateTimeOffset("NotBefore") ?? default, e.GetDateTimeOffset("NotAfter") ?? default,
        e.GetString("Subject") ?? "", e.GetString("Issuer") ?? "", e.GetString("SerialNumber") ?? "", e.ETag.ToString());

    static CaCertificate ToCa(TableEntity e) => new(
        e.PartitionKey, e.GetString("Status")!, e.GetString("CertificatePem")!, e.GetBoolean("AutoRegistration") ?? false,
        e.GetDateTimeOffset("CreationDate") ?? default, e.GetDateTimeOffset("LastModifiedDate") ?? default,
        e.GetDateTimeOffset("NotBefore") ?? default, e.GetDateTimeOffset("NotAfter") ?? default,
        e.GetString("Subject") ?? "", e.ETag.ToString());
}
