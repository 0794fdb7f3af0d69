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

    public static string PresenceConnectFailed(string clientId) => $"{PresencePrefix}connect_failed/{clientId}";

    /// <summary>Just-in-time registration: a certificate of this CA was registered on its first connection.</summary>
    public static string CertificateRegistered(string caCertificateId) => $"$aws/events/certificates/registered/{caCertificateId}";
}
