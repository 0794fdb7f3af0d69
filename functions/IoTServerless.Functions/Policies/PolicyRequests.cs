using System.Text.Json;
using IoTServerless.Core.Http;
using IoTServerless.Core.Security.Policies;
using IoTServerless.Functions.Http;
using Microsoft.AspNetCore.Mvc;

namespace IoTServerless.Functions.Policies;

/// <summary>Reading policy API bodies and turning <see cref="PolicyException"/>s into problem details.</summary>
internal static class PolicyRequests
{
    public const int MaxBodyBytes = 64 * 1024;

    /// <summary>The body as a JSON object, or the problem to answer.</summary>
    public static async Task<(JsonElement Body, IActionResult? Problem)> ReadObjectAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var bytes = await RequestBody.ReadAsync(request, MaxBodyBytes, cancellationToken);
        if (bytes is null)
        {
            return (default, Problems.PayloadTooLarge(MaxBodyBytes));
        }
        if (bytes.Length == 0)
        {
            return (default, Problems.BadRequest("Invalid request body.", "The request body is empty; a JSON object is required."));
        }
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (default, Problems.BadRequest("Invalid request body.", "The request body must be a JSON object."));
            }
            return (doc.RootElement.Clone(), null);
        }
        catch (JsonException ex)
        {
            return (default, Problems.BadRequest("Invalid request body.", $"The request body is not valid JSON (line {(ex.LineNumber ?? 0) + 1}, column {(ex.BytePositionInLine ?? 0) + 1})."));
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
