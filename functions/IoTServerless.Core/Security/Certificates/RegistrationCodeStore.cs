using System.Security.Cryptography;
using Azure;
using Azure.Data.Tables;
using IoTServerless.Core.Storage;

namespace IoTServerless.Core.Security.Certificates;

/// <summary>The account's CA registration code (AWS GetRegistrationCode): created once, then stable.</summary>
public sealed class RegistrationCodeStore(TableClientProvider tables)
{
    public const string Table = "PlatformSettings";

    public async Task<string> GetOrCreateAsync(CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(Table, cancellationToken);
        var existing = await table.GetEntityIfExistsAsync<TableEntity>("registration-code", "", cancellationToken: cancellationToken);
        if (existing.HasValue)
        {
            return existing.Value!.GetString("Code")!;
        }
        var code = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        try
        {
            await table.AddEntityAsync(new TableEntity("registration-code", "") { ["Code"] = code }, cancellationToken);
            return code;
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            return (await table.GetEntityAsync<TableEntity>("registration-code", "", cancellationToken: cancellationToken)).Value.GetString("Code")!;
        }
    }
}
