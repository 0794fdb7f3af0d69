using System.Text.RegularExpressions;

namespace IoTServerless.Core.Registry;

public static partial class ThingName
{
    /// <summary>The contract's thing name: <c>[a-zA-Z0-9:_-]{1,128}</c>.</summary>
    public static bool IsValid(string? name) => name is not null && Pattern().IsMatch(name);

    [GeneratedRegex(@"^[a-zA-Z0-9:_-]{1,128}\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
