using System.Globalization;

namespace IoTServerless.Core.Security.Policies;

/// <summary>
/// IAM condition operators over the connection's keys (<see cref="PolicyVariables"/>). Every key
/// here describes the connection, so conditions are decided once, when a policy set is compiled.
/// </summary>
public static class PolicyConditions
{
    public static readonly IReadOnlyList<string> Operators =
    [
        "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike",
        "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals",
        "Bool", "ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike", "Null",
    ];

    public static bool TryParseOperator(string text, out string baseOperator, out bool ifExists)
    {
        ifExists = text.EndsWith("IfExists", StringComparison.Ordinal);
        baseOperator = ifExists ? text[..^"IfExists".Length] : text;
        var candidate = baseOperator;
        return Operators.Contains(candidate) && !(ifExists && candidate == "Null");
    }

    /// <summary>Null when <paramref name="value"/> suits <paramref name="op"/>; otherwise why not.</summary>
    public static string? ValidateValue(string op, string value)
    {
        if (value.Contains("${", StringComparison.Ordinal))
        {
            return null; // checked once resolved
        }
        if (op is "Bool" or "Null" && !bool.TryParse(value, out _))
        {
            return $"{op} takes \"true\" or \"false\", not \"{value}\".";
        }
        if (op.StartsWith("Numeric", StringComparison.Ordinal) && !decimal.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
        {
            return $"{op} takes a number, not \"{value}\".";
        }
        return null;
    }

    /// <summary>
    /// Whether the condition holds for <paramref name="context"/>. A value whose variable cannot be
    /// resolved fails closed: the condition is false in an Allow statement and true in a Deny.
    /// </summary>
    public static bool Evaluate(PolicyCondition condition, PolicyContext context, PolicyEffect effect)
    {
        var key = PolicyVariables.Resolve(condition.Key, context);
        if (condition.Operator == "Null")
        {
            foreach (var v in condition.Values)
            {
                if (v.Resolve(context) is not { } text || !bool.TryParse(text, out var wantsNull))
                {
                    return effect == PolicyEffect.Deny;
                }
                if (wantsNull != (key is null))
                {
                    return false;
                }
            }
            return true;
        }
        var negated = condition.Operator.Contains("Not", StringComparison.Ordinal);
        if (key is null)
        {
            return condition.IfExists || negated;
        }
        var any = false;
        foreach (var value in condition.Values)
        {
            bool? matched = Matches(condition.Operator, key, value, context);
            if (matched is null)
            {
                return effect == PolicyEffect.Deny;
            }
            any |= matched.Value;
        }
        return negated ? !any : any;
    }

    static bool? Matches(string op, string key, PolicyTemplate value, PolicyContext context)
    {
        switch (op)
        {
            case "StringLike" or "StringNotLike":
                return value.ToGlob(context)?.IsMatch(key);
            case "ArnEquals" or "ArnNotEquals" or "ArnLike" or "ArnNotLike":
                return value.Resolve(context) is { } arn ? ArnMatches(arn, key) : null;
        }
        if (value.Resolve(context) is not { } text)
        {
            return null;
        }
        switch (op)
        {
            case "StringEquals" or "StringNotEquals":
                return string.Equals(key, text, StringComparison.Ordinal);
            case "StringEqualsIgnoreCase" or "StringNotEqualsIgnoreCase":
                return string.Equals(key, text, StringComparison.OrdinalIgnoreCase);
            case "Bool":
                return bool.TryParse(key, out var k) && bool.TryParse(text, out var t) && k == t;
            default:
                if (!decimal.TryParse(key, NumberStyles.Float, CultureInfo.InvariantCulture, out var left)
                    || !decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var right))
                {
                    return false;
                }
                return op switch
                {
                    "NumericEquals" or "NumericNotEquals" => left == right,
                    "NumericLessThan" => left < right,
                    "NumericLessThanEquals" => left <= right,
                    "NumericGreaterThan" => left > right,
                    _ => left >= right,
                };
        }
    }

    /// <summary>IAM's ARN matching: each of the six colon-separated parts is globbed on its own.</summary>
    static bool ArnMatches(string pattern, string arn)
    {
        var p = pattern.Split(':', 6);
        var a = arn.Split(':', 6);
        if (p.Length != a.Length)
        {
            return p.Length == 1 && p[0] == "*";
        }
        for (var i = 0; i < p.Length; i++)
        {
            if (!GlobPattern.Parse(p[i]).IsMatch(a[i]))
            {
                return false;
            }
        }
        return true;
    }
}
