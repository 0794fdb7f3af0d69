namespace IoTServerless.Core.Storage;

/// <summary>
/// Where the platform's tables (and the rules engine's queues and blobs) live. Locally a connection
/// string (Azurite); in Azure the service URIs with the app's managed identity (no keys).
/// </summary>
public sealed class TableStorageOptions
{
    public const string SectionName = "Storage";

    public string? ConnectionString { get; set; }

    public Uri? TableServiceUri { get; set; }

    /// <summary>The queue service (rules' queue action), e.g. https://account.queue.core.windows.net; used when no connection string is set.</summary>
    public Uri? QueueServiceUri { get; set; }

    /// <summary>The blob service (rules' blob action), e.g. https://account.blob.core.windows.net; used when no connection string is set.</summary>
    public Uri? BlobServiceUri { get; set; }

    /// <summary>Client id of a user-assigned managed identity; empty for the default credential chain.</summary>
    public string? ManagedIdentityClientId { get; set; }
}
