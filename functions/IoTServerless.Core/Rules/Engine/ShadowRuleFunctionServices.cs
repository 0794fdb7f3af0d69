using System.Text.Json;
using IoTServerless.Core.Rules.Sql;
using IoTServerless.Core.Shadows;

namespace IoTServerless.Core.Rules.Engine;

/// <summary>get_thing_shadow for rule SQL: the shadow document as GetThingShadow answers it, from <see cref="ShadowService"/>.</summary>
public sealed class ShadowRuleFunctionServices(ShadowService shadows) : IRuleFunctionServices
{
    public async ValueTask<JsonElement?> GetThingShadowAsync(string thingName, string? shadowName, CancellationToken cancellationToken)
    {
        var result = await shadows.GetAsync(thingName, string.IsNullOrEmpty(shadowName) ? null : shadowName, ReadOnlyMemory<byte>.Empty, cancellationToken);
        if (result.Accepted)
        {
            using var document = JsonDocument.Parse(result.Payload);
            return document.RootElement.Clone();
        }
        return result.StatusCode is 404 or 400 ? null
            : throw new InvalidOperationException($"Reading the shadow of {thingName} failed with {result.StatusCode}.");
    }
}
