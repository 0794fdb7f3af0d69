using IoTServerless.Core.Security.Policies;
using IoTServerless.Functions.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace IoTServerless.Functions.Policies;

/// <summary>AWS IoT's AttachPolicy, DetachPolicy, ListAttachedPolicies and ListTargetsForPolicy.</summary>
public sealed class PolicyAttachmentsFunctions(PolicyStore store)
{
    /// <summary>Body <c>{"target":"…"}</c>: a certificate ARN or id, or a thing group ARN or name.</summary>
    [Function("AttachPolicy")]
    public async Task<IActionResult> AttachPolicyAsync(
        [HttpTrigger(AuthorizationLevel.Function, "put", Route = "target-policies/{policyName}")] HttpRequest request,
        string policyName,
        CancellationToken cancellationToken)
    {
        var (target, problem) = await ReadTargetAsync(request, cancellationToken);
        return problem ?? await PolicyRequests.RunAsync(async () =>
        {
            await store.AttachPolicyAsync(policyName, target!, cancellationToken);
            return new OkObjectResult(new { });
        });
    }

    /// <summary>AWS's DetachPolicy: POST on the attach route with the same body.</summary>
    [Function("DetachPolicy")]
    public async Task<IActionResult> DetachPolicyAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "target-policies/{policyName}")] HttpRequest request,
        string policyName,
        CancellationToken cancellationToken)
    {
        var (target, problem) = await ReadTargetAsync(request, cancellationToken);
        return problem ?? await PolicyRequests.RunAsync(async () =>
        {
            await store.DetachPolicyAsync(policyName, target!, cancellationToken);
            return new OkObjectResult(new { });
        });
    }

    /// <summary><c>?target=</c> (the policies attached directly to it; one page).</summary>
    [Function("ListAttachedPolicies")]
    public Task<IActionResult> ListAttachedPoliciesAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "attached-policies")] HttpRequest request,
        CancellationToken cancellationToken)
        => PolicyRequests.RunAsync(async () =>
        {
            var policies = await store.ListAttachedPoliciesAsync(request.Query["target"].ToString(), cancellationToken);
            return new OkObjectResult(new { Policies = policies, NextMarker = (string?)null });
        });

    /// <summary>Paged with <c>?marker=</c> and <c>?pageSize=</c>; AWS uses POST, GET works too.</summary>
    [Function("ListTargetsForPolicy")]
    public async Task<IActionResult> ListTargetsForPolicyAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", "post", Route = "policy-targets/{policyName}")] HttpRequest request,
        string policyName,
        CancellationToken cancellationToken)
    {
        if (PolicyRequests.PageSize(request, out var pageSize) is { } bad)
        {
            return bad;
        }
        var marker = request.Query["marker"].ToString();
        return await PolicyRequests.RunAsync(async () =>
        {
            var page = await store.ListTargetsForPolicyAsync(policyName, marker, pageSize, cancellationToken);
            return new OkObjectResult(new { Targets = page.Items, page.NextMarker });
        });
    }

    static async Task<(string? Target, IActionResult? Problem)> ReadTargetAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var (body, problem) = await PolicyRequests.ReadObjectAsync(request, cancellationToken);
        if (problem is not null)
        {
            return (null, problem);
        }
        if (PolicyRequests.String(body, "target", required: true, out var target) is { } bad)
        {
            return (null, bad);
        }
        return PolicyTarget.TryParse(target, out _, out var error) ? (target, null) : (null, Problems.BadRequest("Invalid target.", error));
    }
}
