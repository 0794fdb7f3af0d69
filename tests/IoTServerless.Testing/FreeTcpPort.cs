using System.Net;
using System.Net.Sockets;

namespace IoTServerless.Testing;

public static class FreeTcpPort
{
    /// <summary>A loopback port that was free a moment ago (for processes that cannot bind port 0 themselves).</summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
