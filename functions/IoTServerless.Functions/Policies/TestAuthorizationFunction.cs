using System.Text.Json;
using IoTServerless.Core.Security.Policies;
using IoTServerless.Functions.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace IoTServerless.Functions.Policies;

/// <summary>
/// AWS IoT's TestAuthorization: would this principal be allowed to do X on Y, and which statements
/// decided it. Evaluates <c>policyNamesToAdd</c> plus the policies attached to <c>principal</c>
/// (minus <c>policyNamesToSkip</c>) with the variables of <c>clientId</c> and <c>context</c>.
/// </summary>
public sealed class TestAuthorizationFunction(PolicyStore store)
{
    const int MaxAuthInfos = 10;

    [Function("TestAuthorization")]
    public async Task<IActionResult> TestAuthorizationAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "test-authorization")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        var (body, problem) = await PolicyRequests.ReadObjectAsync(request, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }
        if (Parse(body) is not { } parsed)
        {
            return Problems.BadRequest("Invalid request body.", _error);
        }
        return await PolicyRequests.RunAsync(async () =>
        {
            var documents = new List<NamedPolicyDocument>(await store.GetDocumentsAsync(parsed.Add, cancellationToken));
            if (parsed.Principal is not null)
            {
                documents.AddRange(await store.GetAttachedDocumentsAsync([parsed.Principal], cancellationToken));
            }
            documents = [.. documents.DistinctBy(d => d.PolicyName, StringComparer.Ordinal).Where(d => !parsed.Skip.Contains(d.PolicyName))];
            var set = CompiledPolicySet.Compile(documents, parsed.Context);
            return new OkObjectResult(new { AuthResults = parsed.AuthInfos.Select(info => Evaluate(set, info)).ToList() });
        });
    }

    object Evaluate(CompiledPolicySet set, AuthInfo info)
    {
        var explanations = info.Resources.Select(r => set.Explain(info.Action, r)).ToList();
        var outcome = explanations.Any(e => e.Decision.Outcome == AuthorizationOutcome.ExplicitDeny) ? AuthorizationOutcome.ExplicitDeny
            : explanations.All(e => e.Decision.IsAllowed) ? AuthorizationOutcome.Allowed
            : AuthorizationOutcome.ImplicitDeny;
        return new
        {
            AuthInfo = new { info.ActionType, info.Resources },
            Allowed = new { Policies = Policies(explanations.SelectMany(e => e.Allowing)) },
            Denied = new
            {
                ExplicitDeny = new { Policies = Policies(explanations.SelectMany(e => e.Denying)) },
                ImplicitDeny = new
                {
                    Policies = outcome == AuthorizationOutcome.ImplicitDeny
                        ? set.PolicyNames.Select(n => new { PolicyName = n, PolicyArn = store.ArnOf(n), Statements = Array.Empty<object>() }).ToList<object>()
                        : [],
                },
            },
            AuthDecision = outcome switch
            {
                AuthorizationOutcome.Allowed => "ALLOWED",
                AuthorizationOutcome.ExplicitDeny => "EXPLICIT_DENY",
                _ => "IMPLICIT_DENY",
            },
            MissingContextValues = Array.Empty<string>(),
        };
    }

    /// <summary>Each policy once, with the statements (index and Sid) that matched.</summary>
    List<object> Policies(IEnumerable<MatchedStatement> statements) =>
    [
        .. statements
            .GroupBy(s => s.PolicyName, StringComparer.Ordinal)
            .Select(g => new
            {
                PolicyName = g.Key,
                PolicyArn = store.ArnOf(g.Key),
                Statements = g.DistinctBy(s => s.StatementIndex).OrderBy(s => s.StatementIndex).Select(s => new { Index = s.StatementIndex, s.Sid, Effect = s.Effect.ToString() }).ToList(),
            }),
    ];

    sealed record AuthInfo(string ActionType, PolicyAction Action, IReadOnlyList<string> Resources);

    sealed record Request(string? Principal, IReadOnlyList<string> Add, HashSet<string> Skip, IReadOnlyList<AuthInfo> AuthInfos, PolicyContext Context);

    string _error = "";

    Request? Parse(JsonElement body)
    {
        if (!OptionalString(body, "clientId", "clientId", out var clientId) || !OptionalString(body, "principal", "principal", out var principal))
        {
            return null;
        }
        string? canonicalPrincipal = null;
        if (principal is not null && !PolicyTarget.TryParse(principal, out canonicalPrincipal, out var targetError))
        {
            return Fail("principal: " + targetError);
        }
        if (!StringList(body, "policyNamesToAdd", out var add) || !StringList(body, "policyNamesToSkip", out var skip))
        {
            return null;
        }
        foreach (var name in add.Concat(skip))
        {
            if (!PolicyName.IsValid(name))
            {
                return Fail($"Invalid policy name '{name}'. {PolicyName.Rule}");
            }
        }
        if (!body.TryGetProperty("authInfos", out var infos) || infos.ValueKind != JsonValueKind.Array || infos.GetArrayLength() is 0 or > MaxAuthInfos)
        {
            return Fail($"'authInfos' is required: a list of 1 to {MaxAuthInfos} objects {{\"actionType\":\"PUBLISH|SUBSCRIBE|RECEIVE|CONNECT\",\"resources\":[\"arn:…\"]}}.");
        }
        var authInfos = new List<AuthInfo>();
        var i = 0;
        foreach (var info in infos.EnumerateArray())
        {
            var path = $"authInfos[{i++}]";
            if (info.ValueKind != JsonValueKind.Object)
            {
                return Fail($"{path} must be an object.");
            }
            if (!info.TryGetProperty("actionType", out var actionType) || actionType.ValueKind != JsonValueKind.String
                || !PolicyActions.TryParseActionType(actionType.GetString(), out var action))
            {
                return Fail($"{path}.actionType must be PUBLISH, SUBSCRIBE, RECEIVE, CONNECT or an action name such as iot:UpdateThingShadow.");
            }
            if (!info.TryGetProperty("resources", out var resources) || resources.ValueKind != JsonValueKind.Array || resources.GetArrayLength() == 0
                || resources.EnumerateArray().Any(r => r.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(r.GetString())))
            {
                return Fail($"{path}.resources must be a non-empty list of resource ARNs (strings).");
            }
            authInfos.Add(new AuthInfo(actionType.GetString()!, action, [.. resources.EnumerateArray().Select(r => r.GetString()!)]));
        }
        if (ParseContext(body, clientId) is not { } context)
        {
            return null;
        }
        return new Request(canonicalPrincipal, add, [.. skip], authInfos, context);
    }

    PolicyContext? ParseContext(JsonElement body, string? clientId)
    {
        var context = new PolicyContext { ClientId = clientId };
        if (!body.TryGetProperty("context", out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return context;
        }
        if (element.ValueKind != JsonValueKind.Object)
        {
            return Fail<PolicyContext>("context must be an object with optional 'thing' and 'certificate'.");
        }
        if (element.TryGetProperty("thing", out var thing) && thing.ValueKind != JsonValueKind.Null)
        {
            if (thing.ValueKind != JsonValueKind.Object || !OptionalString(thing, "thingName", "context.thing.thingName", out var thingName) || thingName is null)
            {
                return Fail<PolicyContext>("context.thing must be an object with a string 'thingName'.");
            }
            if (!OptionalString(thing, "thingTypeName", "context.thing.thingTypeName", out var typeName)
                || !StringMap(thing, "attributes", "context.thing.attributes", out var attributes))
            {
                return null;
            }
            var attached = true;
            if (thing.TryGetProperty("isAttached", out var isAttached))
            {
                if (isAttached.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    return Fail<PolicyContext>("context.thing.isAttached must be true or false.");
                }
                attached = isAttached.GetBoolean();
            }
            if (attached)
            {
                context = context with { Thing = new PolicyThing(thingName, typeName, attributes) };
            }
        }
        if (element.TryGetProperty("certificate", out var certificate) && certificate.ValueKind != JsonValueKind.Null)
        {
            if (certificate.ValueKind != JsonValueKind.Object
                || !OptionalString(certificate, "certificateId", "context.certificate.certificateId", out var id)
                || !OptionalString(certificate, "serialNumber", "context.certificate.serialNumber", out var serial)
                || !StringMap(certificate, "subject", "context.certificate.subject", out var subject)
                || !StringMap(certificate, "issuer", "context.certificate.issuer", out var issuer))
            {
                return _error.Length > 0 ? null : Fail<PolicyContext>("context.certificate must be an object.");
            }
            context = context with { Certificate = new PolicyCertificate(id, serial, subject, issuer) };
        }
        return context;
    }

    bool OptionalString(JsonElement element, string name, string path, out string? value)
    {
        value = null;
        if (!element.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null)
        {
            return true;
        }
        if (e.ValueKind != JsonValueKind.String)
        {
            _error = $"{path} must be a string.";
            return false;
        }
        value = e.GetString();
        return true;
    }

    bool StringList(JsonElement element, string name, out List<string> values)
    {
        values = [];
        if (!element.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null)
        {
            return true;
        }
        if (e.ValueKind != JsonValueKind.Array || e.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String))
        {
            _error = $"{name} must be a list of policy names (strings).";
            return false;
        }
        values = [.. e.EnumerateArray().Select(x => x.GetString()!)];
        return true;
    }

    bool StringMap(JsonElement element, string name, string path, out Dictionary<string, string> values)
    {
        values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!element.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null)
        {
            return true;
        }
        if (e.ValueKind != JsonValueKind.Object || e.EnumerateObject().Any(p => p.Value.ValueKind != JsonValueKind.String))
        {
            _error = $"{path} must be an object of string values.";
            return false;
        }
        foreach (var p in e.EnumerateObject())
        {
            values[p.Name] = p.Value.GetString()!;
        }
        return true;
    }

    Request? Fail(string error) => Fail<Request>(error);

    T? Fail<T>(string error)
        where T : class
    {
        _error = error;
        return null;
    }
}
