namespace IoTServerless.Core.Rules.Sql;

/// <summary>What SQL functions that read platform state (get_thing_shadow) call.</summary>
public interface IRuleFunctionServices
{
    /// <summary>The shadow document (as AWS returns it: state, metadata, version…) or null when absent.</summary>
    ValueTask<System.Text.Json.JsonElement?> GetThingShadowAsync(string thingName, string? shadowName, CancellationToken cancellationToken);
}
