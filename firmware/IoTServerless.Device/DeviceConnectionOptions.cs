namespace IoTServerless.Device;

/// <summary>
/// How a device reaches the platform: endpoint, identity (client certificate) and the CA that the
/// server's certificate must chain to. Defaults follow the AWS IoT device SDKs.
/// </summary>
public sealed class DeviceConnectionOptions
{
    /// <summary>Broker host name or IP address; also the name the server certificate must match.</summary>
    public required string Host { get; init; }

    public int Port { get; init; } = 8883;

    /// <summary>MQTT client id; by convention the thing name.</summary>
    public required string ClientId { get; init; }

    /// <summary>The device certificate (PEM).</summary>
    public required string CertificatePath { get; init; }

    /// <summary>The device's private key (PEM, PKCS#8 or SEC1).</summary>
    public required string KeyPath { get; init; }

    /// <summary>The CA certificate(s) (PEM, may be a bundle) that signed the server certificate.</summary>
    public required string CaCertificatePath { get; init; }

    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Persistent sessions are the default of AWS device SDKs.</summary>
    public bool CleanSession { get; init; }

    /// <summary>Timeout of the TCP/TLS/MQTT connect and of each acknowledged packet.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Reconnect automatically after a connection that was up is lost.</summary>
    public bool AutoReconnect { get; init; } = true;

    /// <summary>First reconnect delay; it doubles per failed attempt up to <see cref="ReconnectMaxDelay"/>, with jitter.</summary>
    public TimeSpan ReconnectInitialDelay { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(60);
}
