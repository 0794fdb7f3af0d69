namespace IoTServerless.Core.Shadows;

/// <summary>The device shadow service's limits (configuration section <c>Shadows</c>); the defaults are AWS IoT's.</summary>
public sealed class ShadowOptions
{
    public const string SectionName = "Shadows";

    /// <summary>The largest update request accepted (UTF-8 bytes); larger ones are 413.</summary>
    public int MaxRequestBytes { get; set; } = ShadowUpdateRequest.DefaultMaxRequestBytes;

    /// <summary>The largest desired + reported state a shadow may hold (UTF-8 bytes of their JSON); beyond it an update is 413.</summary>
    public int MaxStateBytes { get; set; } = ShadowDocument.DefaultMaxStateBytes;

    /// <summary>Requests for one thing in progress at once in this process; more are refused with 429.</summary>
    public int MaxInFlightPerThing { get; set; } = 10;

    /// <summary>How often an update or delete is tried when rival writers keep changing the shadow between its read and its write.</summary>
    public int MaxWriteAttempts { get; set; } = 20;
}
