using Azure;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Rules.Actions;

/// <summary>
/// The <c>blob</c> action (S3's place): writes the SELECT output to <c>containerName/blobName</c>,
/// the container created on first use. The blob name is a substitution template; the upload
/// overwrites, so a redelivered message rewrites the same blob when the name is made of the
/// message's own values (e.g. <c>${topic()}/${clientid()}-${timestamp()}.json</c>: the timestamp is the
/// broker's receive time, the same on redelivery). A name with <c>newuuid()</c> is not idempotent: each
/// delivery writes another blob. Content type application/json (or octet-stream for non-JSON
/// output); metadata <c>iotmessageid</c> and <c>iotrule</c>.
/// </summary>
public sealed class BlobActionHandler : IRuleActionHandler
{
    const int MaxBlobNameLength = 1024;

    readonly RuleStorageClientProvider _storage;
    readonly RuleActionOptions _options;
    readonly RuleActionRetry _retry;
    readonly RuleTemplates _templates = new();
    readonly ILogger<BlobActionHandler> _logger;

    public BlobActionHandler(RuleStorageClientProvider storage, IOptions<RuleActionOptions> options, ILogger<BlobActionHandler> logger, TimeProvider? time = null)
    {
        _storage = storage;
        _options = options.Value;
        _retry = new RuleActionRetry(_options, time ?? TimeProvider.System);
        _logger = logger;
    }

    public string Kind => "blob";

    public string Resource(RuleAction action) => action.Blob is { } blob ? $"{blob.ContainerName}/{blob.BlobName}" : "";

    public IReadOnlyList<string> Validate(RuleAction action)
    {
        var problems = new List<string>();
        if (action.Blob is not { } blob)
        {
            problems.Add("blob: is required");
            return problems;
        }
        if (!RuleActionContent.IsStorageName(blob.ContainerName ?? ""))
        {
            problems.Add($"containerName: '{blob.ContainerName}' is not a valid container name (3–63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit)");
        }
        if (string.IsNullOrEmpty(blob.BlobName))
        {
            problems.Add("blobName: is required");
        }
        else if (RuleTemplates.IsTemplate(blob.BlobName))
        {
            if (RuleTemplates.Check("blobName", blob.BlobName) is { } problem)
            {
                problems.Add(problem);
            }
        }
        else if (CheckBlobName(blob.BlobName) is { } problem)
        {
            problems.Add(problem);
        }
        return problems;
    }

    static string? CheckBlobName(string name)
    {
        if (name.Length is 0 or > MaxBlobNameLength)
        {
            return $"blobName: must be 1–{MaxBlobNameLength} characters (was {name.Length})";
        }
        if (name.EndsWith('.') || name.EndsWith('/') || name.EndsWith('\\'))
        {
            return "blobName: must not end with '.', '/' or '\\'";
        }
        if (name.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0)
        {
            return "blobName: must not contain control characters";
        }
        return null;
    }

    public Task<IReadOnlyList<string?>> ExecuteAsync(IReadOnlyList<RuleActionInvocation> invocations, CancellationToken cancellationToken)
        => RuleActionBatch.RunAsync(this, invocations, _options.MaxConcurrency, UploadAsync, _logger, cancellationToken);

    async Task<string?> UploadAsync(RuleActionInvocation invocation, CancellationToken cancellationToken)
    {
        if (invocation.Action.Blob is not { } action)
        {
            return "not a blob action";
        }
        if (!RuleActionContent.IsStorageName(action.ContainerName ?? ""))
        {
            return $"containerName: '{action.ContainerName}' is not a valid container name";
        }
        string blobName;
        try
        {
            blobName = _templates.Render(action.BlobName, invocation.Message);
        }
        catch (Sql.RuleSqlException e)
        {
            return $"blobName: substitution template: {e.Message}";
        }
        if (CheckBlobName(blobName) is { } problem)
        {
            return $"{problem} after substitution";
        }
        var content = BinaryData.FromBytes(invocation.Output);
        var metadata = new Dictionary<string, string> { ["iotrule"] = invocation.RuleName };
        var messageId = RuleActionContent.MessageId(invocation.Message);
        if (messageId.All(char.IsAscii))
        {
            metadata["iotmessageid"] = messageId;
        }
        var upload = new BlobUploadOptions
        {
            HttpHeaders = new BlobHttpHeaders { ContentType = RuleActionContent.ContentType(invocation.Output.Span) },
            Metadata = metadata,
        };
        return await _retry.RunAsync(async ct =>
        {
            var container = await _storage.GetContainerAsync(action.ContainerName!, ct);
            try
            {
                // No conditions: the upload replaces an existing blob (a redelivery rewrites it).
                await container.GetBlobClient(blobName).UploadAsync(content, upload, ct);
                return ActionAttempt.Success;
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                _storage.ForgetContainer(action.ContainerName!);
                return ActionAttempt.Transient($"status 404 {e.ErrorCode}: the container was not found");
            }
        }, cancellationToken);
    }
}
