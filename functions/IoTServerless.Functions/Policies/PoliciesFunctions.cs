using IoTServerless.Core.Security.Policies;
using IoTServerless.Functions.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace IoTServerless.Functions.Policies;

/// <summary>AWS IoT's policy control plane: policies and their versions.</summary>
public sealed class PoliciesFunctions(PolicyStore store)
{
    [Function("CreatePolicy")]
    public async Task<IActionResult> CreatePolicyAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "policies/{policyName}")] HttpRequest request,
        string policyName,
        CancellationToken cancellationToken)
    {
        var (body, problem) = await PolicyRequests.ReadObjectAsync(request, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }
        if (PolicyRequests.String(body, "policyDocument", required: true, out var document) is { } bad)
        {
            return bad;
        }
        return await PolicyRequests.RunAsync(async () =>
        {
            var created = await store.CreatePolicyAsync(policyName, document, cancellationToken);
            return new OkObjectResult(new { created.PolicyName, created.PolicyArn, created.PolicyDocument, created.PolicyVersionId });
        });
    }

    [Function("GetPolicy")]
    public Task<IActionResult> GetPolicyAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "policies/{policyName}")] HttpRequest request,
        string policyName,
        CancellationToken cancellationToken)
        => PolicyRequests.RunAsync(async () =>
        {
            var policy = await store.GetPolicyAsync(policyName, cancellationToken);
            return new OkObjectResult(new
            {
                policy.PolicyName,
                policy.PolicyArn,
                policy.PolicyDocument,
                policy.DefaultVersionId,
                CreationDate = PolicyRequests.EpochSeconds(policy.CreationDate),
                LastModifiedDate = PolicyRequests.EpochSeconds(policy.LastModifiedDate),
                policy.GenerationId,
            });
        });

    /// <summary>Paged: <c>?marker=</c> (the previous page's <c>nextMarker</c>) and <c>?pageSize=</c> (1–250).</summary>
    [Function("ListPolicies")]
    public async Task<IActionResult> ListPoliciesAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "policies")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        if (PolicyRequests.PageSize(request, out var pageSize) is { } bad)
        {
            return bad;
        }
        var marker = request.Query["marker"].ToString();
        return await PolicyRequests.RunAsync(async () =>
        {
            var page = await store.ListPoliciesAsync(marker, pageSize, cancellationToken);
            return new OkObjectResult(new { Policies = page.Items, page.NextMarker });
        });
    }

    [Function("DeletePolicy")]
    public Task<IActionResult> DeletePolicyAsync(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = "policies/{policyName}")] HttpRequest request,
        string policyName,
        CancellationToken cancellationToken)
        => PolicyRequests.RunAsync(async () =>
        {
            await store.DeletePolicyAsync(policyName, cancellationToken);
            return new OkObjectResult(new { });
        });

    /// <summary><c>?setAsDefault=true</c> makes the new version the default.</summary>
    [Function("CreatePolicyVersion")]
    public async Task<IActionResult> CreatePolicyVersionAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "policies/{policyName}/version")] HttpRequest request,
        string policyName,
        CancellationToken cancellationToken)
    {
        var setAsDefaultText = request.Query["setAsDefault"].ToString();
        var setAsDefault = false;
        if (setAsDefaultText.Length > 0 && !bool.TryParse(setAsDefaultText, out setAsDefault))
        {
            return Problems.BadRequest("Invalid setAsDefault.", "setAsDefault must be true or false.");
        }
        var (body, problem) = await PolicyRequests.ReadObjectAsync(request, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }
        if (PolicyRequests.String(body, "policyDocument", required: true, out var document) is { } bad)
        {
            return bad;
        }
        return await PolicyRequests.RunAsync(async () =>
        {
            var created = await store.CreatePolicyVersionAsync(policyName, document, setAsDefault, cancellationToken);
            return new OkObjectResult(new { created.PolicyArn, created.PolicyDocument, created.PolicyVersionId, created.IsDefaultVersion });
        });
    }

    [Function("ListPolicyVersions")]
    public Task<IActionResult> ListPolicyVersionsAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "policies/{policyName}/version")] HttpRequest request,
        string policyName,
        CancellationToken cancellationToken)
        => PolicyRequests.RunAsync(async () =>
        {
            var versions = await store.ListPolicyVersionsAsync(policyName, cancellationToken);
            return new OkObjectResult(new
            {
                PolicyVersions = versions.Select(v => new { VersionId = v.PolicyVersionId, v.IsDefaultVersion, CreateDate = PolicyRequests.EpochSeconds(v.CreationDate) }),
            });
        });

    [Function("GetPolicyVersion")]
    public Task<IActionResult> GetPolicyVersionAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "policies/{policyName}/version/{policyVersionId}")] HttpRequest request,
        string policyName,
        string policyVersionId,
        CancellationToken cancellationToken)
        => PolicyRequests.RunAsync(async () =>
        {
            var version = await store.GetPolicyVersionAsync(policyName, policyVersionId, cancellationToken);
            return new OkObjectResult(new
            {
                version.PolicyArn,
                version.PolicyName,
                version.PolicyDocument,
                version.PolicyVersionId,
                version.IsDefaultVersion,
                CreationDate = PolicyRequests.EpochSeconds(version.CreationDate),
            });
        });

    [Function("DeletePolicyVersion")]
    public Task<IActionResult> DeletePolicyVersionAsync(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = "policies/{policyName}/version/{policyVersionId}")] HttpRequest request,
        string policyName,
        string policyVersionId,
        CancellationToken cancellationToken)
        => PolicyRequests.RunAsync(async () =>
        {
            await store.DeletePolicyVersionAsync(policyName, policyVersionId, cancellationToken);
            return new OkObjectResult(new { });
        });

    /// <summary>AWS SetDefaultPolicyVersion.</summary>
    [Function("SetDefaultPolicyVersion")]
    public Task<IActionResult> SetDefaultPolicyVersionAsync(
        [HttpTrigger(AuthorizationLevel.Function, "patch", Route = "policies/{policyName}/version/{policyVersionId}")] HttpRequest request,
        string policyName,
        string policyVersionId,
        CancellationToken cancellationToken)
        => PolicyRequests.RunAsync(async () =>
        {
            await store.SetDefaultPolicyVersionAsync(policyName, policyVersionId, cancellationToken);
            return new OkObjectResult(new { });
        });
}
