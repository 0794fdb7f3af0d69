using System.Text.RegularExpressions;

namespace IoTServerless.Core.Shadows;

/// <summary>Named-shadow names: <c>[$a-zA-Z0-9:_-]{1,64}</c> (the classic shadow has no name).</summary>
public static partial class ShadowName
{
    public const int MaxLength = 64;

    public static bool IsValid(string? name) => name is not null && Pattern().IsMatch(name);

    [GeneratedRegex(@"^[$a-zA-Z0-9:_-]{1,64}\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
