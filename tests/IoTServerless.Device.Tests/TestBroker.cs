using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using MQTTnet.Server;

namespace IoTServerless.Device.Tests;

/// <summary>
/// A real MQTTnet 5 server with a TLS listener on 127.0.0.1 only, requiring client certificates that
/// chain to <c>clientCa</c>. It can be stopped and started again on the same port (a broker restart).
/// </summary>
public sealed class TestBroker : IAsyncDisposable
{
    readonly X509Certificate2 _serverCertificate;
    readonly X509Certificate2 _clientCa;
    MqttServer? _server;

    public TestBroker(X509Certificate2 serverCertificate, X509Certificate2 clientCa)
    {
        _serverCertificate = serverCertificate;
        _clientCa = clientCa;
        Port = GetFreeLoopbackPort();
    }

    public int Port { get; }

    /// <summary>Client ids of accepted connections, in order.</summary>
    public ConcurrentQueue<string> ConnectedClientIds { get; } = new();

    /// <summary>Subjects of the client certificates presented during TLS handshakes.</summary>
    public ConcurrentQueue<string> ClientCertificateSubjects { get; } = new();

    public async Task StartAsync()
    {
        var options = new MqttServerOptionsBuilder()
            .WithoutDefaultEndpoint()
            .WithEncryptedEndpoint()
            .WithEncryptedEndpointPort(Port)
            .WithEncryptedEndpointBoundIPAddress(IPAddress.Loopback)
            .WithEncryptedEndpointBoundIPV6Address(IPAddress.None)
            .WithTlsEndpointReuseAddress()
            .WithEncryptionCertificate(_serverCertificate)
            .WithClientCertificate(ValidateClientCertificate)
            .Build();
        var server = new MqttServerFactory().CreateMqttServer(options);
        server.ClientConnectedAsync += e =>
        {
            ConnectedClientIds.Enqueue(e.ClientId);
            return Task.CompletedTask;
        };
        await server.StartAsync();
        _server = server;
    }

    public async Task StopAsync()
    {
        if (_server is { } server)
        {
            _server = null;
            await server.StopAsync();
            server.Dispose();
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    bool ValidateClientCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return false;
        }
        using var client = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        ClientCertificateSubjects.Enqueue(client.Subject);
        using var customChain = new X509Chain();
        customChain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        customChain.ChainPolicy.CustomTrustStore.Add(_clientCa);
        customChain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return customChain.Build(client);
    }

    static int GetFreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
