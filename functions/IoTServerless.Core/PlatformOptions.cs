namespace IoTServerless.Core;

/// <summary>The region and account that appear in the ARNs the platform returns (AWS-shaped; any value).</summary>
public sealed class PlatformOptions
{
    public const string SectionName = "Platform";

    public string Region { get; set; } = "local";

    public string AccountId { get; set; } = "000000000000";

    /// <summary>The ARN of a resource such as <c>policy/{name}</c> or <c>cert/{id}</c>.</summary>
    public string Arn(string resource) => $"arn:aws:iot:{Region}:{AccountId}:{resource}";
}
