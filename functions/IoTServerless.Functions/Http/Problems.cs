using IoTServerless.Core;
using Microsoft.AspNetCore.Mvc;

namespace IoTServerless.Functions.Http;

/// <summary>RFC 9457 problem-details results.</summary>
internal static class Problems
{
    public static ObjectResult Create(int status, string title, string? detail = null) => new(new ProblemDetails
    {
        Status = status,
        Title = title,
        Detail = detail,
    })
    {
        StatusCode = status,
        ContentTypes = { "application/problem+json" },
    };

    public static ObjectResult BadRequest(string title, string? detail = null) => Create(StatusCodes.Status400BadRequest, title, detail);

    public static ObjectResult NotFound(string title, string? detail = null) => Create(StatusCodes.Status404NotFound, title, detail);

    /// <summary>A refused control-plane request: AWS's error code as the title and as the <c>code</c> extension.</summary>
    public static ObjectResult From(ControlPlaneException ex)
    {
        var result = Create(ex.Status, ex.Code, ex.Message);
        ((ProblemDetails)result.Value!).Extensions["code"] = ex.Code;
        return result;
    }

    /// <summary>Runs a control-plane operation, answering a refusal as problem details.</summary>
    public static async Task<IActionResult> RunAsync(Func<Task<IActionResult>> operation)
    {
        try
        {
            return await operation();
        }
        catch (ControlPlaneException ex)
        {
            return From(ex);
        }
    }

    public static ObjectResult PayloadTooLarge(int limit) => Create(StatusCodes.Status413PayloadTooLarge, "Payload too large.", $"The limit is {limit} bytes.");
}

/// <summary>A malformed request value (a field of the wrong type, a bad query value): 400 InvalidRequestException.</summary>
internal sealed class InvalidRequestException(string message) : ControlPlaneException(StatusCodes.Status400BadRequest, "InvalidRequestException", message);

/// <summary>A request body over the limit: 413.</summary>
internal sealed class PayloadTooLargeException(string message) : ControlPlaneException(StatusCodes.Status413PayloadTooLarge, "PayloadTooLargeException", message);
