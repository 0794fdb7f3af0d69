namespace IoTServerless.Core.Shadows;

/// <summary>
/// What a shadow operation answers: <see cref="StatusCode"/> and <see cref="Payload"/> (the accepted
/// document, published on <c>…/accepted</c>, or the error document, published on <c>…/rejected</c>;
/// both also the HTTP response). An accepted update may also carry the <c>update/delta</c> document
/// (only when there is something to publish there) and the <c>update/documents</c> document.
/// </summary>
public sealed record ShadowResult(int StatusCode, byte[] Payload, byte[]? Delta, byte[]? Documents)
{
    public bool Accepted => StatusCode is >= 200 and < 300;
}

/// <summary>
/// One page of a thing's named shadows (ListNamedShadowsForThing): <see cref="Payload"/> is
/// <c>{"results":[…],"nextToken":…,"timestamp":…}</c>, or the error document when refused.
/// </summary>
public sealed record NamedShadowPage(int StatusCode, byte[] Payload, IReadOnlyList<string> Results, string? NextToken)
{
    public bool Accepted => StatusCode is >= 200 and < 300;
}
