using System.Collections.Concurrent;
using Azure.Core;
using Azure.Identity;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using IoTServerless.Core.Storage;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Rules.Actions;

/// <summary>
/// Queue and blob-container clients for the queue and blob actions, from the platform's storage
/// settings (<c>Storage:ConnectionString</c>, or <c>Storage:QueueServiceUri</c>/<c>BlobServiceUri</c>
/// with the managed identity). Each queue/container is created once per process on first use. The
/// SDK's own retries are off: the actions retry with <see cref="RuleActionOptions"/>. Queue messages
/// are base64-encoded (<see cref="QueueMessageEncoding.Base64"/>), which Azure Functions queue
/// triggers expect by default; a reader with the SDK and the same setting gets the output bytes back.
/// </summary>
public sealed class RuleStorageClientProvider
{
    readonly TableStorageOptions _storage;
    readonly Lazy<QueueServiceClient?> _queues;
    readonly Lazy<BlobServiceClient?> _blobs;
    readonly ConcurrentDictionary<string, Lazy<Task<QueueClient>>> _queueClients = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, Lazy<Task<BlobContainerClient>>> _containers = new(StringComparer.Ordinal);

    public RuleStorageClientProvider(IOptions<TableStorageOptions> storage, IOptions<RuleActionOptions> actions)
    {
        _storage = storage.Value;
        var timeout = actions.Value.AttemptTimeout;
        _queues = new(() =>
        {
            var options = new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 };
            NoRetries(options, timeout);
            if (!string.IsNullOrEmpty(_storage.ConnectionString))
            {
                return new QueueServiceClient(_storage.ConnectionString, options);
            }
            return _storage.QueueServiceUri is { } uri ? new QueueServiceClient(uri, Credential(), options) : null;
        });
        _blobs = new(() =>
        {
            var options = new BlobClientOptions();
            NoRetries(options, timeout);
            if (!string.IsNullOrEmpty(_storage.ConnectionString))
            {
                return new BlobServiceClient(_storage.ConnectionString, options);
            }
            return _storage.BlobServiceUri is { } uri ? new BlobServiceClient(uri, Credential(), options) : null;
        });
    }

    /// <summary>The queue, created if it does not exist (once per process).</summary>
    public Task<QueueClient> GetQueueAsync(string name, CancellationToken cancellationToken)
        => _queueClients.GetOrAdd(name, n => new Lazy<Task<QueueClient>>(() => CreateQueueAsync(n, cancellationToken))).Value;

    /// <summary>The container, created if it does not exist (once per process).</summary>
    public Task<BlobContainerClient> GetContainerAsync(string name, CancellationToken cancellationToken)
        => _containers.GetOrAdd(name, n => new Lazy<Task<BlobContainerClient>>(() => CreateContainerAsync(n, cancellationToken))).Value;

    /// <summary>Forgets that the queue exists (it was deleted behind our back): the next use creates it again.</summary>
    public void ForgetQueue(string name) => _queueClients.TryRemove(name, out _);

    /// <summary>Forgets that the container exists: the next use creates it again.</summary>
    public void ForgetContainer(string name) => _containers.TryRemove(name, out _);

    async Task<QueueClient> CreateQueueAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            var service = _queues.Value ?? throw new InvalidOperationException(
                $"No queue storage configured: set {TableStorageOptions.SectionName}:ConnectionString or {TableStorageOptions.SectionName}:QueueServiceUri.");
            var queue = service.GetQueueClient(name);
            await queue.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
            return queue;
        }
        catch
        {
            ForgetQueue(name);
            throw;
        }
    }

    async Task<BlobContainerClient> CreateContainerAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            var service = _blobs.Value ?? throw new InvalidOperationException(
                $"No blob storage configured: set {TableStorageOptions.SectionName}:ConnectionString or {TableStorageOptions.SectionName}:BlobServiceUri.");
            var container = service.GetBlobContainerClient(name);
            await container.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
            return container;
        }
        catch
        {
            ForgetContainer(name);
            throw;
        }
    }

    TokenCredential Credential()
        => new DefaultAzureCredential(new DefaultAzureCredentialOptions
        {
            ManagedIdentityClientId = string.IsNullOrEmpty(_storage.ManagedIdentityClientId) ? null : _storage.ManagedIdentityClientId,
        });

    static void NoRetries(ClientOptions options, TimeSpan timeout)
    {
        options.Retry.MaxRetries = 0;
        options.Retry.NetworkTimeout = timeout;
    }
}
