using System.ComponentModel.DataAnnotations;

namespace IoTServerless.Core.Topics;

/// <summary>Where the broker's internal API is and the key that authenticates calls to it.</summary>
public sealed class BrokerApiOptions
{
    public const string SectionName = "BrokerApi";

    /// <summary>The header carrying the key.</summary>
    public const string KeyHeader = "x-broker-key";

    [Required]
    public Uri? BaseUrl { get; set; }

    [Required]
    public string? Key { get; set; }
}
