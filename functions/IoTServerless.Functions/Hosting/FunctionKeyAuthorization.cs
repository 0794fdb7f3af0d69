using System.Security.Cryptography;
using System.Text;
using Microsoft.Azure.Functions.Worker;

namespace IoTServerless.Functions.Hosting;

public sealed class StandaloneHostingOptions
{
    public const string SectionName = "Hosting";

    /// <summary>The key that function- and admin-level functions require (as <c>x-functions-key</c> or <c>?code=</c>).</summary>
    public string? FunctionKey { get; set; }
}

/// <summary>The Functions host's key check, for standalone mode.</summary>
internal static class FunctionKeyAuthorization
{
    public static bool IsAuthorized(HttpRequest request, AuthorizationLevel level, string? key)
    {
        if (level == AuthorizationLevel.Anonymous)
        {
            return true;
        }
        if (string.IsNullOrEmpty(key))
        {
            return false;
        }
        var presented = request.Headers["x-functions-key"].ToString();
        if (presented.Length == 0)
        {
            presented = request.Query["code"].ToString();
        }
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(key));
    }
}
