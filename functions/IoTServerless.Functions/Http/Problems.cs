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

    public static ObjectResult PayloadTooLarge(int limit) => Create(StatusCodes.Status413PayloadTooLarge, "Payload too large.", $"The limit is {limit} bytes.");
}
