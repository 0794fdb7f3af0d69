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

    /// <summary>
    /// A free loopback port below the kernel's ephemeral range, for a server that must bind the same
    /// port again after a restart. A port from the ephemeral range (what <see cref="Next"/> returns) can
    /// be taken while the server is down by any outgoing connection, including a client retrying
    /// against that very port: Linux then connects the socket to itself, and the port stays in use.
    /// </summary>
    public static int NextBelowEphemeralRange()
    {
        var lowest = EphemeralRangeStart();
        for (var attempt = 0; attempt < 1000; attempt++)
        {
            var port = Random.Shared.Next(Math.Max(1025, lowest - 12_000), lowest);
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // taken: try another
            }
        }
        return Next();
    }

    static int EphemeralRangeStart()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32768; // Linux's default; other systems: below their default (49152) too
        }
    }
}
