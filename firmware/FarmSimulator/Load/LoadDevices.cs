using FarmSimulator.Certificates;
using IoTServerless.Device;

namespace FarmSimulator.Load;

/// <summary>The load scenarios' device connections: one clean-session TLS client per thing, certificates from the dev PKI, no reconnect.</summary>
internal static class LoadDevices
{
    public static DeviceClient Create(string host, int port, string certificateDirectory, string thing) => new(new DeviceConnectionOptions
    {
        Host = host,
        Port = port,
        ClientId = thing,
        CertificatePath = DevPki.DeviceCertificatePath(certificateDirectory, thing),
        KeyPath = DevPki.DeviceKeyPath(certificateDirectory, thing),
        CaCertificatePath = Path.Combine(certificateDirectory, DevPki.CaCertificateFile),
        CleanSession = true,
        AutoReconnect = false,
        Timeout = TimeSpan.FromSeconds(60),
    });
}
