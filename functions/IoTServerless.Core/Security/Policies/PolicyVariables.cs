namespace IoTServerless.Core.Security.Policies;

/// <summary>
/// The policy variables (and condition keys) of AWS IoT: <c>iot:ClientId</c>,
/// <c>iot:Connection.Thing.ThingName|ThingTypeName|IsAttached|Attributes[name]</c>,
/// <c>iot:Certificate.Subject.{Field}</c>, <c>iot:Certificate.Issuer.{Field}</c>,
/// <c>iot:Certificate.SerialNumber</c>. Names compare case-insensitively (attribute names exactly).
/// </summary>
public static class PolicyVariables
{
    public const string ClientId = "iot:ClientId";
    public const string ThingName = "iot:Connection.Thing.ThingName";
    public const string ThingTypeName = "iot:Connection.Thing.ThingTypeName";
    public const string ThingIsAttached = "iot:Connection.Thing.IsAttached";
    public const string ThingAttributesPrefix = "iot:Connection.Thing.Attributes[";
    public const string SubjectPrefix = "iot:Certificate.Subject.";
    public const string IssuerPrefix = "iot:Certificate.Issuer.";
    public const string SerialNumber = "iot:Certificate.SerialNumber";

    /// <summary>Null when <paramref name="name"/> is a variable this platform knows (or one outside the <c>iot:</c> namespace, which never resolves); otherwise why not.</summary>
    public static string? Validate(string name)
    {
        if (name.Length == 0)
        {
            return "'${}' is not a policy variable.";
        }
        if (!name.StartsWith("iot:", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        if (Is(name, ClientId) || Is(name, ThingName) || Is(name, ThingTypeName) || Is(name, ThingIsAttached) || Is(name, SerialNumber))
        {
            return null;
        }
        if (name.StartsWith(ThingAttributesPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return name.EndsWith(']') && name.Length > ThingAttributesPrefix.Length + 1 ? null : $"'${{{name}}}' must name an attribute: ${{iot:Connection.Thing.Attributes[name]}}.";
        }
        if ((name.StartsWith(SubjectPrefix, StringComparison.OrdinalIgnoreCase) && name.Length > SubjectPrefix.Length)
            || (name.StartsWith(IssuerPrefix, StringComparison.OrdinalIgnoreCase) && name.Length > IssuerPrefix.Length))
        {
            return null;
        }
        return $"Unknown policy variable '${{{name}}}'. Known: ${{{ClientId}}}, ${{{ThingName}}}, ${{{ThingTypeName}}}, ${{{ThingIsAttached}}}, ${{{ThingAttributesPrefix}name]}}, ${{{SubjectPrefix}Field}}, ${{{IssuerPrefix}Field}}, ${{{SerialNumber}}}.";
    }

    /// <summary>The variable's value in <paramref name="context"/>; null when it cannot be resolved.</summary>
    public static string? Resolve(string name, PolicyContext context)
    {
        if (Is(name, ClientId))
        {
            return context.ClientId;
        }
        if (Is(name, ThingIsAttached))
        {
            return context.IsThingAttached ? "true" : "false";
        }
        if (Is(name, SerialNumber))
        {
            return context.Certificate?.SerialNumber;
        }
        if (name.StartsWith("iot:Connection.Thing.", StringComparison.OrdinalIgnoreCase))
        {
            if (!context.IsThingAttached)
            {
                return null;
            }
            var thing = context.Thing!;
            if (Is(name, ThingName))
            {
                return thing.ThingName;
            }
            if (Is(name, ThingTypeName))
            {
                return thing.ThingTypeName;
            }
            if (name.StartsWith(ThingAttributesPrefix, StringComparison.OrdinalIgnoreCase) && name.EndsWith(']'))
            {
                var attribute = name[ThingAttributesPrefix.Length..^1];
                return thing.Attributes.TryGetValue(attribute, out var value) ? value : null;
            }
            return null;
        }
        if (name.StartsWith(SubjectPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return Field(context.Certificate?.Subject, name[SubjectPrefix.Length..]);
        }
        if (name.StartsWith(IssuerPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return Field(context.Certificate?.Issuer, name[IssuerPrefix.Length..]);
        }
        return null;
    }

    static string? Field(IReadOnlyDictionary<string, string>? fields, string field)
    {
        if (fields is null)
        {
            return null;
        }
        if (fields.TryGetValue(field, out var value))
        {
            return value;
        }
        foreach (var (key, v) in fields)
        {
            if (string.Equals(key, field, StringComparison.OrdinalIgnoreCase))
            {
                return v;
            }
        }
        return null;
    }

    static bool Is(string name, string variable) => string.Equals(name, variable, StringComparison.OrdinalIgnoreCase);
}
