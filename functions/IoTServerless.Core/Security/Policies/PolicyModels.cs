using System.Text.RegularExpressions;
using IoTServerless.Core.Registry;

namespace IoTServerless.Core.Security.Policies;

/// <summary>A policy with its default version (AWS GetPolicy).</summary>
public sealed record PolicyInfo(
    string PolicyName,
    string PolicyArn,
    string PolicyDocument,
    string DefaultVersionId,
    DateTimeOffset CreationDate,
    DateTimeOffset LastModifiedDate,
    string GenerationId);

/// <summary>One version of a policy (AWS GetPolicyVersion / CreatePolicyVersion).</summary>
public sealed record PolicyVersionInfo(
    string PolicyName,
    string PolicyArn,
    string PolicyDocument,
    string PolicyVersionId,
    bool IsDefaultVersion,
    DateTimeOffset CreationDate);

/// <summary>A policy's name and ARN, as lists show them.</summary>
public sealed record PolicySummary(string PolicyName, string PolicyArn);

/// <summary>A page of a list and the marker of the next page (null on the last).</summary>
public sealed record PolicyPage<T>(IReadOnlyList<T> Items, string? NextMarker);

/// <summary>A failed policy operation, with AWS's error code and the HTTP status to answer.</summary>
public sealed class PolicyException(int status, string code, string message) : ControlPlaneException(status, code, message)
{
    public static PolicyException Invalid(string message) => new(400, "InvalidRequestException", message);
    public static PolicyException Malformed(PolicyValidationException ex) => new(400, "MalformedPolicyException", ex.Message);
    public static PolicyException NotFound(string message) => new(404, "ResourceNotFoundException", message);
    public static PolicyException AlreadyExists(string message) => new(409, "ResourceAlreadyExistsException", message);
    public static PolicyException VersionsLimitExceeded(string message) => new(409, "VersionsLimitExceededException", message);
    public static PolicyException DeleteConflict(string message) => new(409, "DeleteConflictException", message);

    /// <summary>AWS IoT answers LimitExceededException with 410.</summary>
    public static PolicyException LimitExceeded(string message) => new(410, "LimitExceededException", message);
}

public static class PolicyTables
{
    /// <summary>Partition = policy name; rows: "" (the policy, with its default document), "v|{id:D10}" (versions), "t|{target}" (attachments).</summary>
    public const string Policies = "Policies";

    /// <summary>Partition = escaped canonical target, row "": the names of the policies attached to it.</summary>
    public const string PolicyTargets = "PolicyTargets";
}

public static partial class PolicyName
{
    /// <summary>AWS's policy name: <c>[\w+=,.@-]{1,128}</c>.</summary>
    public static bool IsValid(string? name) => name is not null && Pattern().IsMatch(name);

    public const string Rule = @"A policy name matches [\w+=,.@-]{1,128}.";

    [GeneratedRegex(@"^[\w+=,.@-]{1,128}\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}

/// <summary>
/// What a policy attaches to, in canonical form <c>cert/{id}</c> or <c>thinggroup/{name}</c>. Given as
/// an ARN (<c>arn:aws:iot:{region}:{account}:cert/{id}</c>, <c>…:thinggroup/{name}</c>), the canonical form itself, a bare
/// certificate id (64 hex digits) or a bare thing group name.
/// </summary>
public static partial class PolicyTarget
{
    public static bool TryParse(string? text, out string canonical, out string error)
    {
        canonical = "";
        error = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "The target is required: a certificate ARN or id, or a thing group ARN or name.";
            return false;
        }
        var value = text.Trim();
        var isArn = value.StartsWith("arn:", StringComparison.Ordinal);
        if (isArn)
        {
            var parts = value.Split(':', 6);
            if (parts.Length != 6 || parts[2] != "iot")
            {
                error = $"Invalid target ARN '{value}'.";
                return false;
            }
            value = parts[5];
        }
        if (value.StartsWith("cert/", StringComparison.Ordinal) && IsCertificateId(value[5..]))
        {
            canonical = "cert/" + value[5..].ToLowerInvariant();
            return true;
        }
        if (value.StartsWith("thinggroup/", StringComparison.Ordinal) && ThingName.IsValid(value[11..]))
        {
            canonical = value;
            return true;
        }
        if (isArn || value.StartsWith("cert/", StringComparison.Ordinal) || value.StartsWith("thinggroup/", StringComparison.Ordinal))
        {
            error = $"Invalid target '{text}': a target is …:cert/{{64 hex digits}} or …:thinggroup/{{name matching [a-zA-Z0-9:_-]{{1,128}}}}.";
            return false;
        }
        if (IsCertificateId(value))
        {
            canonical = "cert/" + value.ToLowerInvariant();
            return true;
        }
        if (ThingName.IsValid(value))
        {
            canonical = "thinggroup/" + value;
            return true;
        }
        error = $"Invalid target '{text}': a certificate ARN or id (64 hex digits), or a thing group ARN or name ([a-zA-Z0-9:_-]{{1,128}}).";
        return false;
    }

    static bool IsCertificateId(string s) => s.Length == 64 && s.All(char.IsAsciiHexDigit);
}
