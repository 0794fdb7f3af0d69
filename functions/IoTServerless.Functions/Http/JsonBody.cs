using System.Text.Json;
using IoTServerless.Core.Http;

namespace IoTServerless.Functions.Http;

/// <summary>Reads a JSON object body, answering malformed input with a problem that says what is wrong.</summary>
internal static class JsonBody
{
    const int MaxBytes = 64 * 1024;

    /// <summary>The body as a JSON object; throws a <see cref="Core.ControlPlaneException"/> (400/413) that says what is wrong.</summary>
    public static async Task<JsonElement> ReadObjectAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var bytes = await RequestBody.ReadAsync(request, MaxBytes, cancellationToken)
            ?? throw new PayloadTooLargeException($"The body is larger than {MaxBytes} bytes.");
        if (bytes.Length == 0)
        {
            throw new InvalidRequestException("The request body is empty; a JSON object is required.");
        }
        try
        {
            using var document = JsonDocument.Parse(bytes);
            return document.RootElement.ValueKind == JsonValueKind.Object
                ? document.RootElement.Clone()
                : throw new InvalidRequestException("The body must be a JSON object.");
        }
        catch (JsonException ex)
        {
            throw new InvalidRequestException($"The body is not valid JSON (line {ex.LineNumber + 1}, position {ex.BytePositionInLine + 1}): {ex.Message}");
        }
    }

    /// <summary>An optional string property; throws <see cref="InvalidRequestException"/> naming it when it has another type.</summary>
    public static string? OptionalString(JsonElement body, string name)
    {
        if (!body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw new InvalidRequestException($"{name} must be a string.");
    }

    /// <summary>An optional boolean from the query string; throws <see cref="InvalidRequestException"/> naming it when malformed.</summary>
    public static bool QueryBool(HttpRequest request, string name, bool fallback)
    {
        var text = request.Query[name].ToString();
        if (text.Length == 0)
        {
            return fallback;
        }
        return bool.TryParse(text, out var value) ? value : throw new InvalidRequestException($"{name} must be true or false.");
    }
}
