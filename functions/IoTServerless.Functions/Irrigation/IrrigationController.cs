using System.Text.Json;
using System.Text.Json.Nodes;
using Azure;
using Azure.Data.Tables;
using IoTServerless.Core.Registry;
using IoTServerless.Core.Shadows;
using IoTServerless.Core.Storage;
using IoTServerless.Core.Topics;
using Microsoft.Extensions.Options;

namespace IoTServerless.Functions.Irrigation;

public enum IrrigationOutcome
{
    /// <summary>The pump was sent <c>{"command":"ON","duration":…}</c>.</summary>
    Commanded,

    /// <summary>The pump reports ON in its shadow and its run has not ended.</summary>
    AlreadyRunning,

    /// <summary>The pump was commanded moments ago and has not reported yet.</summary>
    AlreadyCommanded,

    /// <summary>The sensor has no pump attribute.</summary>
    NoPump,

    /// <summary>No thing of that name.</summary>
    UnknownSensor,
}

public sealed record IrrigationDecision(IrrigationOutcome Outcome, string SensorId, string? PumpId, string? CommandTopic);

/// <summary>
/// The example of user code behind the <c>LowHumidity</c> rule: given a dry sensor, finds the pump
/// that waters it (the sensor thing's <c>pump</c> attribute) and switches it on, unless the pump's
/// shadow says it is already running or it was commanded within the grace period. Concurrent calls
/// for sensors sharing a pump command it once: the command is claimed with an ETag-conditional write
/// of one row per pump in the <c>IrrigationCommands</c> table before it is published.
/// </summary>
public sealed class IrrigationController(
    ThingStore things,
    ShadowStore shadows,
    TableClientProvider tables,
    IBrokerClient broker,
    TimeProvider time,
    IOptions<IrrigationOptions> options,
    ILogger<IrrigationController> logger)
{
    public const string CommandsTable = "IrrigationCommands";

    public async Task<IrrigationDecision> IrrigateAsync(string sensorId, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var sensor = await things.GetAsync(sensorId, cancellationToken);
        if (sensor is null)
        {
            return new IrrigationDecision(IrrigationOutcome.UnknownSensor, sensorId, null, null);
        }
        if (!sensor.Attributes.TryGetValue(o.PumpAttribute, out var pumpId) || !ThingName.IsValid(pumpId))
        {
            return new IrrigationDecision(IrrigationOutcome.NoPump, sensorId, null, null);
        }
        var farm = sensor.Attributes.TryGetValue(o.FarmAttribute, out var f) && MqttTopic.IsValidTopicName(f, out _) && !f.Contains('/') ? f : o.DefaultFarm;
        var topic = $"{farm}/pump/{pumpId}/cmd";
        var now = time.GetUtcNow();

        if (await IsRunningAsync(pumpId, now, cancellationToken))
        {
            return new IrrigationDecision(IrrigationOutcome.AlreadyRunning, sensorId, pumpId, topic);
        }
        var claim = await TryClaimAsync(pumpId, now, TimeSpan.FromSeconds(o.CommandGraceSeconds), cancellationToken);
        if (claim is null)
        {
            return new IrrigationDecision(IrrigationOutcome.AlreadyCommanded, sensorId, pumpId, topic);
        }
        var command = JsonSerializer.SerializeToUtf8Bytes(new PumpCommandMessage("ON", o.DurationSeconds));
        try
        {
            await broker.PublishAsync(topic, command, qos: 1, retain: false, cancellationToken);
        }
        catch
        {
            // Give the claim back so the retry of this call (or the next dry reading) commands the pump.
            await ReleaseAsync(pumpId, claim.Value, cancellationToken);
            throw;
        }
        logger.LogInformation("Soil at {SensorId} is dry: switched pump {PumpId} on for {DurationSeconds} s", sensorId, pumpId, o.DurationSeconds);
        return new IrrigationDecision(IrrigationOutcome.Commanded, sensorId, pumpId, topic);
    }

    async Task<bool> IsRunningAsync(string pumpId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var stored = await shadows.GetAsync(pumpId, shadowName: null, cancellationToken);
        if (!stored.Document.Exists || stored.Document.State["reported"] is not JsonObject reported)
        {
            return false;
        }
        var on = reported["pump"] is JsonValue pump && pump.TryGetValue<string>(out var state) && string.Equals(state, "ON", StringComparison.OrdinalIgnoreCase);
        if (!on)
        {
            return false;
        }
        // A pump that reports ON but whose run should have ended has gone quiet: command it again.
        return reported["onUntil"] is not JsonValue until || !until.TryGetValue<long>(out var seconds) || DateTimeOffset.FromUnixTimeSeconds(seconds) > now;
    }

    /// <summary>Writes this call's claim on the pump's next command; null when a live claim of another call stands.</summary>
    async Task<ETag?> TryClaimAsync(string pumpId, DateTimeOffset now, TimeSpan grace, CancellationToken cancellationToken)
    {
        var table = await tables.GetTableAsync(CommandsTable, cancellationToken);
        var entity = new TableEntity(pumpId, "") { ["CommandedAt"] = now, ["ClaimedUntil"] = now + grace };
        var existing = await table.GetEntityIfExistsAsync<TableEntity>(pumpId, "", cancellationToken: cancellationToken);
        try
        {
            if (!existing.HasValue || existing.Value is not { } current)
            {
                return (await table.AddEntityAsync(entity, cancellationToken)).Headers.ETag;
            }
            if (current.GetDateTimeOffset("ClaimedUntil") is { } until && until > now)
            {
                return null;
            }
            return (await table.UpdateEntityAsync(entity, current.ETag, TableUpdateMode.Replace, cancellationToken)).Headers.ETag;
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            return null; // another call claimed it between our read and write
        }
    }

    async Task ReleaseAsync(string pumpId, ETag claim, CancellationToken cancellationToken)
    {
        try
        {
            var table = await tables.GetTableAsync(CommandsTable, cancellationToken);
            await table.DeleteEntityAsync(pumpId, "", claim, cancellationToken);
        }
        catch (RequestFailedException ex)
        {
            logger.LogWarning(ex, "Could not release the command claim on pump {PumpId}", pumpId);
        }
    }

    sealed record PumpCommandMessage(
        [property: System.Text.Json.Serialization.JsonPropertyName("command")] string Command,
        [property: System.Text.Json.Serialization.JsonPropertyName("duration")] int Duration);
}
