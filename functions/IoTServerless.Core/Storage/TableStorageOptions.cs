namespace IoTServerless.Core.Storage;

/// <summary>
/// Where the platform's tables live. Locally a connection string (Azurite); in Azure the table
/// service URI with the app's managed identity (no keys).
/// </summary>
public sealed class TableStorageOptions
{
    public const string SectionName = "Storage";

    public string? ConnectionString { get; set; }

    public Uri? TableServiceUri { get; set; }

    /// <summary>Client id of a user-assigned managed identity; empty for the default credential chain.</summary>
    public string? ManagedIdentityClientId { get; set; }
}
