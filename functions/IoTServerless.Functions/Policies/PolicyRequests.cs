using System.Text.Json;
using IoTServerless.Core;
using IoTServerless.Core.Security.Policies;
using IoTServerless.Functions.Http;
using Microsoft.AspNetCore.Mvc;

namespace IoTServerless.Functions.Policies;

/// <summary>Reading policy API bodies and turning <see cref="PolicyException"/>s into problem details.</summary>
internal static class PolicyRequests
{
    /// <summary>The body as a JSON object (read by <see cref="JsonBody"/>), or the problem to answer.</summary>
    public static async Task<(JsonElement Body, IActionResult? Problem)> ReadObjectAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return (await JsonBody.ReadObjectAsync(request, cancellationToken), null);
        }
        catch (ControlPlaneException ex)
        {
            return (default, Problems.From(ex));
        }
    }

    /// <summary>A string property; a problem when it is missing (if required) or not a string.</summary>
    public static IActionResult? String(JsonElement body, string name, bool required, out string? value)
    {
        value = null;
        if (!body.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return required ? Problems.BadRequest("Invalid request body.", $"'{name}' is required.") : null;
        }
        if (element.ValueKind != JsonValueKind.String)
        {
            return Problems.BadRequest("Invalid request body.", $"'{name}' must be a string.");
        }
        value = element.GetString();
        return null;
    }

    public static ObjectResult Problem(PolicyException ex) => Problems.From(ex);

    public static long EpochSeconds(DateTimeOffset time) => time.ToUnixTimeSeconds();

    /// <summary>Runs a store call, answering its <see cref="PolicyException"/> as problem details.</summary>
    public static Task<IActionResult> RunAsync(Func<Task<IActionResult>> action) => Problems.RunAsync(action);

    public static IActionResult? PageSize(HttpRequest request, out int pageSize)
    {
        pageSize = PolicyStore.DefaultPageSize;
        var text = request.Query["pageSize"].ToString();
        if (text.Length > 0 && !(int.TryParse(text, out pageSize) && pageSize is >= 1 and <= PolicyStore.DefaultPageSize))
        {
            return Problems.BadRequest("Invalid pageSize.", $"pageSize must be an integer from 1 to {PolicyStore.DefaultPageSize}.");
        }
        return null;
    }
}
