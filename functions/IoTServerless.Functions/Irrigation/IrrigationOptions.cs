using System.ComponentModel.DataAnnotations;

namespace IoTServerless.Functions.Irrigation;

/// <summary>Settings of the example irrigation controller (section <c>Irrigation</c>).</summary>
public sealed class IrrigationOptions
{
    public const string SectionName = "Irrigation";

    /// <summary>How long a pump runs per command, in seconds (the command's <c>duration</c>).</summary>
    [Range(1, 3600)]
    public int DurationSeconds { get; set; } = 600;

    /// <summary>
    /// After commanding a pump, how long to wait for it to report ON in its shadow before commanding it
    /// again (a pump that is offline, or a command that was lost).
    /// </summary>
    [Range(1, 3600)]
    public int CommandGraceSeconds { get; set; } = 60;

    /// <summary>The sensor thing's registry attribute naming the pump that waters it.</summary>
    [Required]
    public string PumpAttribute { get; set; } = "pump";

    /// <summary>The sensor thing's registry attribute naming its farm (the first topic level); <see cref="DefaultFarm"/> when absent.</summary>
    [Required]
    public string FarmAttribute { get; set; } = "farm";

    [Required]
    public string DefaultFarm { get; set; } = "farmA";
}
