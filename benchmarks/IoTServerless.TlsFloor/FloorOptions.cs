using System.Net;

namespace IoTServerless.TlsFloor;

/// <summary>Command line: <c>--port P --cert server.crt --key server.key --ca ca.crt [--bind 127.0.0.1] [--tls sslstream|openssl]</c>.</summary>
public sealed record FloorOptions(IPEndPoint Endpoint, string CertificatePath, string KeyPath, string ClientCaPath, FloorTls Tls = FloorTls.SslStream)
{
    public static FloorOptions Parse(string[] args)
    {
        string Value(string name)
        {
            var i = Array.IndexOf(args, "--" + name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"--{name} is required");
        }
        var bind = Array.IndexOf(args, "--bind") >= 0 ? Value("bind") : "127.0.0.1";
        var tls = Array.IndexOf(args, "--tls") >= 0 ? Enum.Parse<FloorTls>(Value("tls"), ignoreCase: true) : FloorTls.SslStream;
        return new FloorOptions(new IPEndPoint(IPAddress.Parse(bind), int.Parse(Value("port"))), Value("cert"), Value("key"), Value("ca"), tls);
    }
}

/// <summary>Which TLS the floor runs.</summary>
public enum FloorTls
{
    /// <summary>.NET's SslStream with the broker's settings and client-certificate validation (target tls-floor).</summary>
    SslStream,

    /// <summary>OpenSSL on the socket itself, as mosquitto runs it (<see cref="OpenSslStream"/>; target tls-floor-native).</summary>
    OpenSsl,
}
