using System.Globalization;
using Azure;
using Azure.Data.Tables;
using IoTServerless.Core.Security.Changes;
using IoTServerless.Core.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Security.Policies;

/// <summary>
/// Policies, their versions and attachments in Table storage.
/// <list type="bullet">
/// <item><c>Policies</c>: partition = policy name. Row "" is the policy (default version id and its
/// document, so reading a policy is one point read, plus the list of version ids); rows
/// "v|{id:D10}" hold versions; rows "t|{escaped target}" record attachments. One partition, so
/// version and attachment changes commit together with the policy row in one transaction, guarded
/// by its ETag.</item>
/// <item><c>PolicyTargets</c>: partition = escaped canonical target (<c>cert/{id}</c>,
/// <c>thinggroup/{name}</c>), row "": the names of the policies attached to it (one point read per
/// target; the 10-per-target limit is enforced with its ETag).</item>
/// </list>
/// Documents are validated before anything is written, so an invalid document changes nothing.
/// </summary>
public sealed class PolicyStore(TableClientProvider tables, IOptions<PlatformOptions> options, TimeProvider time, ILogger<PolicyStore> logger, IdentityChangeFeed? changes = null)
{
    public const int MaxVersions = 5;
    public const int MaxPoliciesPerTarget = 10;
    public const int DefaultPageSize = 250;

    const string HeaderRow = "";
    const string VersionPrefix = "v|";
    const string AttachmentPrefix = "t|";
    const int MaxAttempts = 20;

    PlatformOptions Options => options.Value;

    public string ArnOf(string policyName) => Options.Arn("policy/" + policyName);

    /// <summary>AWS CreatePolicy: the policy with version 1 as its default.</summary>
    public async Task<PolicyVersionInfo> CreatePolicyAsync(string policyName, string? policyDocument, CancellationToken cancellationToken)
    {
        ValidateName(policyName);
        var document = ParseDocument(policyDocument);
        var table = await PoliciesAsync(cancellationToken);
        var now = time.GetUtcNow();
        var header = new TableEntity(policyName, HeaderRow)
        {
            ["Document"] = document.Json,
            ["DefaultVersionId"] = 1,
            ["LatestVersionId"] = 1,
            ["VersionIds"] = "1",
            ["CreationDate"] = now,
            ["LastModifiedDate"] = now,
            ["GenerationId"] = Guid.NewGuid().ToString("N"),
        };
        var version = new TableEntity(policyName, VersionRow(1)) { ["Document"] = document.Json, ["CreationDate"] = now };
        try
        {
            await table.SubmitTransactionAsync([new(TableTransactionActionType.Add, header), new(TableTransactionActionType.Add, version)], cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            throw PolicyException.AlreadyExists($"Policy '{policyName}' already exists.");
        }
        logger.LogInformation("Created policy {PolicyName}", policyName);
        return new PolicyVersionInfo(policyName, ArnOf(policyName), document.Json, "1", true, now);
    }

    public async Task<PolicyInfo> GetPolicyAsync(string policyName, CancellationToken cancellationToken)
    {
        ValidateName(policyName);
        var header = await GetHeaderAsync(await PoliciesAsync(cancellationToken), policyName, cancellationToken);
        return ToInfo(header);
    }

    /// <summary>Policies in name order; <paramref name="marker"/> is the previous page's <c>NextMarker</c>.</summary>
    public async Task<PolicyPage<PolicySummary>> ListPoliciesAsync(string? marker, int pageSize, CancellationToken cancellationToken)
    {
        pageSize = ValidatePageSize(pageSize);
        var table = await PoliciesAsync(cancellationToken);
        var filter = string.IsNullOrEmpty(marker)
            ? TableClient.CreateQueryFilter($"RowKey eq {HeaderRow}")
            : TableClient.CreateQueryFilter($"PartitionKey gt {marker} and RowKey eq {HeaderRow}");
        var items = new List<PolicySummary>(pageSize);
        await foreach (var entity in table.QueryAsync<TableEntity>(filter, maxPerPage: pageSize + 1, select: ["PartitionKey"], cancellationToken: cancellationToken))
        {
            if (items.Count == pageSize)
            {
                return new PolicyPage<PolicySummary>(items, items[^1].PolicyName);
            }
            items.Add(new PolicySummary(entity.PartitionKey, ArnOf(entity.PartitionKey)));
        }
        return new PolicyPage<PolicySummary>(items, null);
    }

    /// <summary>AWS DeletePolicy: only when the policy is attached nowhere and has no version but its default.</summary>
    public async Task DeletePolicyAsync(string policyName, CancellationToken cancellationToken)
    {
        ValidateName(policyName);
        var table = await PoliciesAsync(cancellationToken);
        await RetryAsync(async () =>
        {
            var header = await GetHeaderAsync(table, policyName, cancellationToken);
            var versions = VersionIds(header);
            if (versions.Count > 1)
            {
                throw PolicyException.DeleteConflict($"Policy '{policyName}' has {versions.Count} versions; delete every version but the default ({header.GetInt32("DefaultVersionId")}) first.");
            }
            var attachment = await FirstAttachmentAsync(table, policyName, cancellationToken);
            if (attachment is not null)
            {
                throw PolicyException.DeleteConflict($"Policy '{policyName}' is attached to '{attachment}'; detach it first.");
            }
            await table.SubmitTransactionAsync(
            [
                new(TableTransactionActionType.Delete, header, header.ETag),
                new(TableTransactionActionType.Delete, new TableEntity(policyName, VersionRow(versions[0])), ETag.All),
            ], cancellationToken);
            return true;
        }, cancellationToken);
        logger.LogInformation("Deleted policy {PolicyName}", policyName);
    }

    /// <summary>AWS CreatePolicyVersion: at most <see cref="MaxVersions"/> versions (VersionsLimitExceededException).</summary>
    public async Task<PolicyVersionInfo> CreatePolicyVersionAsync(string policyName, string? policyDocument, bool setAsDefault, CancellationToken cancellationToken)
    {
        ValidateName(policyName);
        var document = ParseDocument(policyDocument);
        var table = await PoliciesAsync(cancellationToken);
        var now = time.GetUtcNow();
        var id = await RetryAsync(async () =>
        {
            var header = await GetHeaderAsync(table, policyName, cancellationToken);
            var versions = VersionIds(header);
            if (versions.Count >= MaxVersions)
            {
                throw PolicyException.VersionsLimitExceeded($"Policy '{policyName}' already has {MaxVersions} versions; delete one first.");
            }
            var next = (header.GetInt32("LatestVersionId") ?? versions.Max()) + 1;
            versions.Add(next);
            header["LatestVersionId"] = next;
            header["VersionIds"] = string.Join(',', versions);
            if (setAsDefault)
            {
                header["DefaultVersionId"] = next;
                header["Document"] = document.Json;
                header["GenerationId"] = Guid.NewGuid().ToString("N");
                header["LastModifiedDate"] = now;
            }
            await table.SubmitTransactionAsync(
            [
                new(TableTransactionActionType.UpdateReplace, header, header.ETag),
                new(TableTransactionActionType.Add, new TableEntity(policyName, VersionRow(next)) { ["Document"] = document.Json, ["CreationDate"] = now }),
            ], cancellationToken);
            return next;
        }, cancellationToken);
        logger.LogInformation("Created version {PolicyVersionId} of policy {PolicyName} (default: {IsDefault})", id, policyName, setAsDefault);
        if (setAsDefault)
        {
            await NotifyAsync(policyName, cancellationToken);
        }
        return new PolicyVersionInfo(policyName, ArnOf(policyName), document.Json, Id(id), setAsDefault, now);
    }

    public async Task<PolicyVersionInfo> GetPolicyVersionAsync(string policyName, string policyVersionId, CancellationToken cancellationToken)
    {
        ValidateName(policyName);
        var id = ParseVersionId(policyVersionId);
        var table = await PoliciesAsync(cancellationToken);
        var header = await GetHeaderAsync(table, policyName, cancellationToken);
        var version = await table.GetEntityIfExistsAsync<TableEntity>(policyName, VersionRow(id), cancellationToken: cancellationToken);
        if (!version.HasValue)
        {
            throw VersionNotFound(policyName, policyVersionId);
        }
        return ToVersion(policyName, version.Value!, header.GetInt32("DefaultVersionId") == id);
    }

    /// <summary>AWS ListPolicyVersions, oldest first.</summary>
    public async Task<IReadOnlyList<PolicyVersionInfo>> ListPolicyVersionsAsync(string policyName, CancellationToken cancellationToken)
    {
        ValidateName(policyName);
        var table = await PoliciesAsync(cancellationToken);
        var header = await GetHeaderAsync(table, policyName, cancellationToken);
        var defaultId = header.GetInt32("DefaultVersionId");
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {policyName} and RowKey ge {VersionPrefix} and RowKey lt {"v}"}");
        var list = new List<PolicyVersionInfo>();
        await foreach (var entity in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            list.Add(ToVersion(policyName, entity, defaultId == VersionOf(entity.RowKey)));
        }
        return list;
    }

    /// <summary>AWS SetDefaultPolicyVersion.</summary>
    public async Task SetDefaultPolicyVersionAsync(string policyName, string policyVersionId, CancellationToken cancellationToken)
    {
        ValidateName(policyName);
        var id = ParseVersionId(policyVersionId);
        var table = await PoliciesAsync(cancellationToken);
        await RetryAsync(async () =>
        {
            var header = await GetHeaderAsync(table, policyName, cancellationToken);
            if (!VersionIds(header).Contains(id))
            {
                throw VersionNotFound(policyName, policyVersionId);
            }
            if (header.GetInt32("DefaultVersionId") == id)
            {
                return true;
            }
            var version = await table.GetEntityIfExistsAsync<TableEntity>(policyName, VersionRow(id), cancellationToken: cancellationToken);
            if (!version.HasValue)
            {
                throw VersionNotFound(policyName, policyVersionId);
            }
            header["DefaultVersionId"] = id;
            header["Document"] = version.Value!.GetString("Document");
            header["GenerationId"] = Guid.NewGuid().ToString("N");
            header["LastModifiedDate"] = time.GetUtcNow();
            await table.UpdateEntityAsync(header, header.ETag, TableUpdateMode.Replace, cancellationToken);
            return true;
        }, cancellationToken);
        logger.LogInformation("Set version {PolicyVersionId} as the default of policy {PolicyName}", id, policyName);
        await NotifyAsync(policyName, cancellationToken);
    }

    /// <summary>AWS DeletePolicyVersion: never the default version (DeleteConflictException).</summary>
    public async Task DeletePolicyVersionAsync(string policyName, string policyVersionId, CancellationToken cancellationToken)
    {
        ValidateName(policyName);
        var id = ParseVersionId(policyVersionId);
        var table = await PoliciesAsync(cancellationToken);
        await RetryAsync(async () =>
        {
            var header = await GetHeaderAsync(table, policyName, cancellationToken);
            var versions = VersionIds(header);
            if (!versions.Remove(id))
            {
                throw VersionNotFound(policyName, policyVersionId);
            }
            if (header.GetInt32("DefaultVersionId") == id)
            {
                throw PolicyException.DeleteConflict($"Version {id} is the default version of policy '{policyName}'; set another default first, or delete the policy.");
            }
            header["VersionIds"] = string.Join(',', versions);
            await table.SubmitTransactionAsync(
            [
                new(TableTransactionActionType.UpdateReplace, header, header.ETag),
                new(TableTransactionActionType.Delete, new TableEntity(policyName, VersionRow(id)), ETag.All),
            ], cancellationToken);
            return true;
        }, cancellationToken);
        logger.LogInformation("Deleted version {PolicyVersionId} of policy {PolicyName}", id, policyName);
    }

    /// <summary>AWS AttachPolicy (idempotent): at most <see cref="MaxPoliciesPerTarget"/> policies per target.</summary>
    public async Task AttachPolicyAsync(string policyName, string target, CancellationToken cancellationToken)
    {
        ValidateName(policyName);
        var canonical = ParseTarget(target);
        var policies = await PoliciesAsync(cancellationToken);
        var targets = await TargetsAsync(cancellationToken);
        var wroteAttachment = false;
        await RetryAsync(async () =>
        {
            var header = await GetHeaderAsync(policies, policyName, cancellationToken);
            var existing = await targets.GetEntityIfExistsAsync<TableEntity>(RowKeys.Escape(canonical), HeaderRow, cancellationToken: cancellationToken);
            var entity = existing.HasValue ? existing.Value! : new TableEntity(RowKeys.Escape(canonical), HeaderRow);
            var names = Names(entity);
            if (!names.Contains(policyName) && names.Count >= MaxPoliciesPerTarget)
            {
                if (wroteAttachment)
                {
                    await policies.DeleteEntityAsync(policyName, AttachmentRow(canonical), ETag.All, cancellationToken);
                }
                throw PolicyException.LimitExceeded($"'{canonical}' already has {MaxPoliciesPerTarget} policies attached; detach one first.");
            }
            // The attachment row commits with the policy row's ETag, so it cannot outlive a concurrent delete.
            await policies.SubmitTransactionAsync(
            [
                new(TableTransactionActionType.UpdateMerge, new TableEntity(policyName, HeaderRow), header.ETag),
                new(TableTransactionActionType.UpsertReplace, new TableEntity(policyName, AttachmentRow(canonical)) { ["Target"] = canonical, ["AttachedAt"] = time.GetUtcNow() }),
            ], cancellationToken);
            wroteAttachment = true;
            if (names.Contains(policyName))
            {
                return true;
            }
            names.Add(policyName);
            entity["Policies"] = string.Join('\n', names);
            if (existing.HasValue)
            {
                await targets.UpdateEntityAsync(entity, entity.ETag, TableUpdateMode.Replace, cancellationToken);
            }
            else
            {
                await targets.AddEntityAsync(entity, cancellationToken);
            }
            return true;
        }, cancellationToken);
        logger.LogInformation("Attached policy {PolicyName} to {Target}", policyName, canonical);
        await NotifyAsync(policyName, cancellationToken);
    }

    /// <summary>AWS DetachPolicy (a policy that is not attached detaches silently).</summary>
    public async Task DetachPolicyAsync(string policyName, string target, CancellationToken cancellationToken)
    {
        ValidateName(policyName);
        var canonical = ParseTarget(target);
        var policies = await PoliciesAsync(cancellationToken);
        var targets = await TargetsAsync(cancellationToken);
        await GetHeaderAsync(policies, policyName, cancellationToken);
        await RetryAsync(async () =>
        {
            var existing = await targets.GetEntityIfExistsAsync<TableEntity>(RowKeys.Escape(canonical), HeaderRow, cancellationToken: cancellationToken);
            if (!existing.HasValue)
            {
                return true;
            }
            var entity = existing.Value!;
            var names = Names(entity);
            if (names.Remove(policyName))
            {
                entity["Policies"] = string.Join('\n', names);
                await targets.UpdateEntityAsync(entity, entity.ETag, TableUpdateMode.Replace, cancellationToken);
            }
            return true;
        }, cancellationToken);
        try
        {
            await policies.DeleteEntityAsync(policyName, AttachmentRow(canonical), ETag.All, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
        }
        logger.LogInformation("Detached policy {PolicyName} from {Target}", policyName, canonical);
        await NotifyAsync(policyName, cancellationToken);
    }

    /// <summary>Tells the brokers (through the identity change feed) that what this policy grants changed.</summary>
    Task NotifyAsync(string policyName, CancellationToken cancellationToken)
        => changes?.AppendAsync(IdentityChangeKinds.Policy, policyName, cancellationToken) ?? Task.CompletedTask;

    /// <summary>AWS ListAttachedPolicies (not recursive): the policies attached to <paramref name="target"/>, one point read.</summary>
    public async Task<IReadOnlyList<PolicySummary>> ListAttachedPoliciesAsync(string target, CancellationToken cancellationToken)
    {
        var canonical = ParseTarget(target);
        var targets = await TargetsAsync(cancellationToken);
        var existing = await targets.GetEntityIfExistsAsync<TableEntity>(RowKeys.Escape(canonical), HeaderRow, cancellationToken: cancellationToken);
        return existing.HasValue ? [.. Names(existing.Value!).Select(n => new PolicySummary(n, ArnOf(n)))] : [];
    }

    /// <summary>AWS ListTargetsForPolicy: target ARNs in canonical order; <paramref name="marker"/> is the previous page's <c>NextMarker</c>.</summary>
    public async Task<PolicyPage<string>> ListTargetsForPolicyAsync(string policyName, string? marker, int pageSize, CancellationToken cancellationToken)
    {
        ValidateName(policyName);
        pageSize = ValidatePageSize(pageSize);
        var table = await PoliciesAsync(cancellationToken);
        await GetHeaderAsync(table, policyName, cancellationToken);
        var from = string.IsNullOrEmpty(marker) ? AttachmentPrefix : AttachmentRow(marker);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {policyName} and RowKey gt {from} and RowKey lt {"t}"}");
        var items = new List<string>(pageSize);
        string? last = null;
        await foreach (var entity in table.QueryAsync<TableEntity>(filter, maxPerPage: pageSize + 1, cancellationToken: cancellationToken))
        {
            if (items.Count == pageSize)
            {
                return new PolicyPage<string>(items, last);
            }
            last = entity.GetString("Target");
            items.Add(Options.Arn(last!));
        }
        return new PolicyPage<string>(items, null);
    }

    /// <summary>The default documents of the named policies; ResourceNotFoundException for an unknown name.</summary>
    public async Task<IReadOnlyList<NamedPolicyDocument>> GetDocumentsAsync(IEnumerable<string> policyNames, CancellationToken cancellationToken)
    {
        var table = await PoliciesAsync(cancellationToken);
        var list = new List<NamedPolicyDocument>();
        foreach (var name in policyNames.Distinct(StringComparer.Ordinal))
        {
            ValidateName(name);
            var header = await GetHeaderAsync(table, name, cancellationToken);
            list.Add(new NamedPolicyDocument(name, PolicyDocument.ParseShared(header.GetString("Document")!)));
        }
        return list;
    }

    /// <summary>The default documents of every policy attached to any of <paramref name="targets"/> (what a connection compiles).</summary>
    public async Task<IReadOnlyList<NamedPolicyDocument>> GetAttachedDocumentsAsync(IEnumerable<string> targets, CancellationToken cancellationToken)
    {
        var names = new List<string>();
        foreach (var target in targets)
        {
            names.AddRange((await ListAttachedPoliciesAsync(target, cancellationToken)).Select(p => p.PolicyName));
        }
        var table = await PoliciesAsync(cancellationToken);
        var list = new List<NamedPolicyDocument>();
        foreach (var name in names.Distinct(StringComparer.Ordinal))
        {
            var header = await table.GetEntityIfExistsAsync<TableEntity>(name, HeaderRow, cancellationToken: cancellationToken);
            if (header.HasValue)
            {
                list.Add(new NamedPolicyDocument(name, PolicyDocument.ParseShared(header.Value!.GetString("Document")!)));
            }
        }
        return list;
    }

    Task<TableClient> PoliciesAsync(CancellationToken cancellationToken) => tables.GetTableAsync(PolicyTables.Policies, cancellationToken);

    Task<TableClient> TargetsAsync(CancellationToken cancellationToken) => tables.GetTableAsync(PolicyTables.PolicyTargets, cancellationToken);

    static async Task<TableEntity> GetHeaderAsync(TableClient table, string policyName, CancellationToken cancellationToken)
    {
        var result = await table.GetEntityIfExistsAsync<TableEntity>(policyName, HeaderRow, cancellationToken: cancellationToken);
        return result.HasValue ? result.Value! : throw PolicyException.NotFound($"Policy '{policyName}' does not exist.");
    }

    static async Task<string?> FirstAttachmentAsync(TableClient table, string policyName, CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {policyName} and RowKey gt {AttachmentPrefix} and RowKey lt {"t}"}");
        await foreach (var entity in table.QueryAsync<TableEntity>(filter, maxPerPage: 1, cancellationToken: cancellationToken))
        {
            return entity.GetString("Target");
        }
        return null;
    }

    /// <summary>Runs <paramref name="operation"/> again when a concurrent writer changed what it read (ETag mismatch).</summary>
    async Task<T> RetryAsync<T>(Func<Task<T>> operation, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await operation();
            }
            catch (RequestFailedException ex) when (ex.Status is 412 or 409 or 404 && attempt < MaxAttempts)
            {
                logger.LogDebug("Policy write lost a race (attempt {Attempt}, status {Status}); retrying", attempt, ex.Status);
                await Task.Delay(Random.Shared.Next(0, Math.Min(50, 1 + attempt * 5)), cancellationToken);
            }
        }
    }

    PolicyInfo ToInfo(TableEntity header) => new(
        header.PartitionKey,
        ArnOf(header.PartitionKey),
        header.GetString("Document")!,
        Id(header.GetInt32("DefaultVersionId") ?? 1),
        header.GetDateTimeOffset("CreationDate") ?? default,
        header.GetDateTimeOffset("LastModifiedDate") ?? default,
        header.GetString("GenerationId") ?? "");

    PolicyVersionInfo ToVersion(string policyName, TableEntity version, bool isDefault) => new(
        policyName,
        ArnOf(policyName),
        version.GetString("Document")!,
        Id(VersionOf(version.RowKey)),
        isDefault,
        version.GetDateTimeOffset("CreationDate") ?? default);

    static List<int> VersionIds(TableEntity header)
        => [.. (header.GetString("VersionIds") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture))];

    static List<string> Names(TableEntity target)
        => [.. (target.GetString("Policies") ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries)];

    static string VersionRow(int id) => VersionPrefix + id.ToString("D10", CultureInfo.InvariantCulture);

    static int VersionOf(string row) => int.Parse(row.AsSpan(VersionPrefix.Length), CultureInfo.InvariantCulture);

    static string AttachmentRow(string canonicalTarget) => AttachmentPrefix + RowKeys.Escape(canonicalTarget);

    static string Id(int id) => id.ToString(CultureInfo.InvariantCulture);

    static void ValidateName(string policyName)
    {
        if (!PolicyName.IsValid(policyName))
        {
            throw PolicyException.Invalid($"Invalid policy name '{policyName}'. {PolicyName.Rule}");
        }
    }

    static PolicyDocument ParseDocument(string? json)
    {
        try
        {
            return PolicyDocument.Parse(json!);
        }
        catch (PolicyValidationException ex)
        {
            throw PolicyException.Malformed(ex);
        }
    }

    static string ParseTarget(string target)
        => PolicyTarget.TryParse(target, out var canonical, out var error) ? canonical : throw PolicyException.Invalid(error);

    static int ParseVersionId(string policyVersionId)
        => int.TryParse(policyVersionId, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id > 0
            ? id
            : throw PolicyException.Invalid($"Invalid policy version id '{policyVersionId}': a positive integer.");

    static PolicyException VersionNotFound(string policyName, string versionId)
        => PolicyException.NotFound($"Policy '{policyName}' has no version {versionId}.");

    static int ValidatePageSize(int pageSize)
        => pageSize is >= 1 and <= DefaultPageSize ? pageSize : throw PolicyException.Invalid($"pageSize must be between 1 and {DefaultPageSize}.");
}
