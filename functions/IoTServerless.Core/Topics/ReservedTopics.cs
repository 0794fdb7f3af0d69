namespace IoTServerless.Core.Topics;

/// <summary>The reserved <c>$aws/...</c> topics of the contract.</summary>
public static class ReservedTopics
{
    public const string Prefix = "$aws/";
    public const string PresencePrefix = "$aws/events/presence/";
    public const string PresenceFilter = "$aws/events/presence/+/+";

    public static bool IsReserved(string topic) => topic.StartsWith('$');

    public static string PresenceConnected(string clientId) => $"{PresencePrefix}connected/{clientId}";

    public static string PresenceDisconnected(string clientId) => $"{PresencePrefix}disconnected/{clientId}";
}
