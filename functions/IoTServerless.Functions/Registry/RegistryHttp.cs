using System.Globalization;
using IoTServerless.Core.Http;
using IoTServerless.Core.Registry;
using IoTServerless.Functions.Http;
using Microsoft.AspNetCore.Mvc;

namespace IoTServerless.Functions.Registry;

/// <summary>What the registry's functions share: bodies, query values, errors as problem details.</summary>
internal static class RegistryHttp
{
    public const int MaxBodyBytes = 64 * 1024;

    /// <summary>Runs a registry operation; a refused request becomes problem details with AWS's error code.</summary>
    public static async Task<IActionResult> RunAsync(Func<Task<IActionResult>> operation)
    {
        try
        {
            return await Problems.RunAsync(operation);
        }
        catch (BodyTooLargeException)
        {
            return Problems.PayloadTooLarge(MaxBodyBytes);
        }
    }

    public static async Task<byte[]> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
        => await RequestBody.ReadAsync(request, MaxBodyBytes, cancellationToken) ?? throw new BodyTooLargeException();

    public static string? Query(HttpRequest request, string name)
    {
        var value = request.Query[name].ToString();
        return value.Length == 0 ? null : value;
    }

    public static int? QueryInt(HttpRequest request, string name)
        => Query(request, name) is not { } text ? null
            : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value
            : throw RegistryException.Invalid($"{name} must be an integer.");

    public static long? QueryLong(HttpRequest request, string name)
        => Query(request, name) is not { } text ? null
            : long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value
            : throw RegistryException.Invalid($"{name} must be a non-negative integer.");

    public static bool QueryBool(HttpRequest request, string name)
        => Query(request, name) is not { } text ? false
            : bool.TryParse(text, out var value) ? value
            : throw RegistryException.Invalid($"{name} must be true or false.");

    /// <summary>A list answer: <c>{"{itemsName}":[…], "nextToken"?}</c>.</summary>
    public static OkObjectResult List<T>(string itemsName, ListPage<T> page)
    {
        var body = new Dictionary<string, object> { [itemsName] = page.Items };
        if (page.NextToken is not null)
        {
            body["nextToken"] = page.NextToken;
        }
        return new OkObjectResult(body);
    }

    public static OkObjectResult Empty() => new(new Dictionary<string, object>());

    public static ObjectResult NotFound(string what) => Problem(RegistryException.NotFound($"{what} does not exist."));

    static ObjectResult Problem(RegistryException ex) => Problems.From(ex);

    sealed class BodyTooLargeException : Exception;
}
