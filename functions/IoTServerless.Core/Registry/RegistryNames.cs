using System.Text.RegularExpressions;

namespace IoTServerless.Core.Registry;

/// <summary>AWS IoT's registry name and attribute rules.</summary>
public static partial class RegistryNames
{
    public const int MaxAttributesWithType = 50;
    public const int MaxAttributesWithoutType = 3;
    public const int MaxSearchableAttributes = 3;
    public const int MaxDescriptionLength = 2028;

    /// <summary>Thing type and thing group names: <c>[a-zA-Z0-9:_-]{1,128}</c>, as thing names.</summary>
    public static bool IsValidTypeOrGroupName(string? name) => ThingName.IsValid(name);

    /// <summary><c>[a-zA-Z0-9_.,@/:#-]{1,128}</c>.</summary>
    public static bool IsValidAttributeName(string? name) => name is not null && AttributeNamePattern().IsMatch(name);

    /// <summary><c>[a-zA-Z0-9_.,@/:#=\[\]-]{0,800}</c>.</summary>
    public static bool IsValidAttributeValue(string? value) => value is not null && AttributeValuePattern().IsMatch(value);

    /// <summary>Printable characters and spaces, at most 2028.</summary>
    public static bool IsValidDescription(string? description)
        => description is not null && description.Length <= MaxDescriptionLength && description.All(c => c >= ' ' && c != '\u007f' && !char.IsControl(c));

    public static void RequireThingName(string? name)
    {
        if (!ThingName.IsValid(name))
        {
            throw RegistryException.Invalid($"Invalid thing name '{name}': a thing name matches [a-zA-Z0-9:_-]{{1,128}}.");
        }
    }

    public static void RequireThingTypeName(string? name, string what = "thing type name")
    {
        if (!IsValidTypeOrGroupName(name))
        {
            throw RegistryException.Invalid($"Invalid {what} '{name}': it must match [a-zA-Z0-9:_-]{{1,128}}.");
        }
    }

    public static void RequireThingGroupName(string? name, string what = "thing group name")
    {
        if (!IsValidTypeOrGroupName(name))
        {
            throw RegistryException.Invalid($"Invalid {what} '{name}': it must match [a-zA-Z0-9:_-]{{1,128}}.");
        }
    }

    /// <summary>Checks names and values; <paramref name="path"/> names the field in error messages.</summary>
    public static void RequireAttributes(IReadOnlyDictionary<string, string> attributes, string path)
    {
        foreach (var (name, value) in attributes)
        {
            if (!IsValidAttributeName(name))
            {
                throw RegistryException.Invalid($"Invalid attribute name '{name}' in {path}: it must match [a-zA-Z0-9_.,@/:#-]{{1,128}}.");
            }
            if (!IsValidAttributeValue(value))
            {
                throw RegistryException.Invalid($"Invalid value of attribute '{name}' in {path}: it must match [a-zA-Z0-9_.,@/:#=\\[\\]-]{{0,800}}.");
            }
        }
    }

    /// <summary>AWS: 50 attributes on a thing with a type, 3 without.</summary>
    public static void RequireAttributeCount(int count, bool hasType)
    {
        var limit = hasType ? MaxAttributesWithType : MaxAttributesWithoutType;
        if (count > limit)
        {
            throw RegistryException.Invalid(hasType
                ? $"Too many attributes: {count}; a thing with a thing type has at most {MaxAttributesWithType}."
                : $"Too many attributes: {count}; a thing without a thing type has at most {MaxAttributesWithoutType}.");
        }
    }

    [GeneratedRegex(@"^[a-zA-Z0-9_.,@/:#-]{1,128}\z", RegexOptions.CultureInvariant)]
    private static partial Regex AttributeNamePattern();

    [GeneratedRegex(@"^[a-zA-Z0-9_.,@/:#=\[\]-]{0,800}\z", RegexOptions.CultureInvariant)]
    private static partial Regex AttributeValuePattern();
}
