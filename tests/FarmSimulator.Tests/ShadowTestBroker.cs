using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using FarmSimulator.Certificates;
using IoTServerless.Core.Security;
using IoTServerless.Device;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace FarmSimulator.Tests;

/// <summary>
/// A real MQTTnet server over mutual TLS with the dev PKI (one certificate per thing), for pumps and
/// the fake shadow service. It records every publish and can refuse subscriptions or kick a client.
/// </summary>
public sealed class ShadowTestBroker : IAsyncDisposable
{
    readonly X509Certificate2 _ca;
    readonly X509Certificate2 _serverCertificate;
    readonly MqttServer _server;

    ShadowTestBroker(string directory, X509Certificate2 ca, X509Certificate2 serverCertificate, int port, MqttServer server)
    {
        Directory = directory;
        _ca = ca;
        _serverCertificate = serverCertificate;
        Port = port;
        _server = server;
    }

    public string Directory { get; }

    public int Port { get; }

    /// <summary>Every publish the server saw, in order.</summary>
    public ConcurrentQueue<(string ClientId, string Topic, string Payload)> Published { get; } = new();

    /// <summary>Subscriptions for which this returns true are refused (SUBACK failure), as a policy would.</summary>
    public Func<string, bool> RefuseSubscription { get; set; } = _ => false;

    public static async Task<ShadowTestBroker> StartAsync(params string[] things)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("farm-shadow-").FullName;
        DevPki.Ensure(directory, things);
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(directory, DevPki.CaCertificateFile)));
        var serverCertificate = CertificateFactory.LoadPem(Path.Combine(directory, DevPki.ServerCertificateFile), Path.Combine(directory, DevPki.ServerKeyFile));
        var port = FreeLoopbackPort();
        var options = new MqttServerOptionsBuilder()
            .WithoutDefaultEndpoint()
            .WithEncryptedEndpoint()
            .WithEncryptedEndpointPort(port)
            .WithEncryptedEndpointBoundIPAddress(IPAddress.Loopback)
            .WithEncryptedEndpointBoundIPV6Address(IPAddress.None)
            .WithEncryptionCertificate(serverCertificate)
            .WithClientCertificate((_, certificate, _, _) => Validate(certificate, ca))
            .Build();
        var server = new MqttServerFactory().CreateMqttServer(options);
        var broker = new ShadowTestBroker(directory, ca, serverCertificate, port, server);
        server.InterceptingPublishAsync += e =>
        {
            broker.Published.Enqueue((e.ClientId, e.ApplicationMessage.Topic, Encoding.UTF8.GetString(e.ApplicationMessage.Payload.ToArray())));
            return Task.CompletedTask;
        };
        server.InterceptingSubscriptionAsync += e =>
        {
            if (broker.RefuseSubscription(e.TopicFilter.Topic))
            {
                e.ProcessSubscription = false;
                e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
            }
            return Task.CompletedTask;
        };
        await server.StartAsync();
        return broker;
    }

    /// <summary>A device client for <paramref name="thing"/> (client id = thing name) with quick reconnects.</summary>
    public DeviceClient CreateClient(string thing) => new(new DeviceConnectionOptions
    {
        Host = "127.0.0.1",
        Port = Port,
        ClientId = thing,
        CertificatePath = DevPki.DeviceCertificatePath(Directory, thing),
        KeyPath = DevPki.DeviceKeyPath(Directory, thing),
        CaCertificatePath = Path.Combine(Directory, DevPki.CaCertificateFile),
        Timeout = TimeSpan.FromSeconds(5),
        ReconnectInitialDelay = TimeSpan.FromMilliseconds(100),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
    });

    /// <summary>Drops the client's connection from the server side (it reconnects on its own).</summary>
    public Task KickAsync(string clientId) => _server.DisconnectClientAsync(clientId, MqttDisconnectReasonCode.AdministrativeAction);

    public async ValueTask DisposeAsync()
    {
        await _server.StopAsync();
        _server.Dispose();
        _ca.Dispose();
        _serverCertificate.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Temp files.
        }
    }

    static bool Validate(X509Certificate? certificate, X509Certificate2 ca)
    {
        if (certificate is null)
        {
            return false;
        }
        using var client = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(client);
    }

    static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
