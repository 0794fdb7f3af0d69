using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using FarmSimulator.Certificates;
using FarmSimulator.Simulation;
using IoTServerless.Core.Security;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace FarmSimulator.Tests;

/// <summary>The simulator against a real MQTTnet server over mutual TLS with the dev PKI.</summary>
public sealed class FarmSimulationTests : IAsyncLifetime
{
    const string Farm = "farmT";
    static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    readonly string _directory = Directory.CreateTempSubdirectory("farm-sim-").FullName;
    readonly ConcurrentQueue<(string Topic, string Payload)> _published = new();
    readonly ConcurrentDictionary<string, int> _connected = new();
    readonly ConcurrentDictionary<string, int> _disconnected = new();
    X509Certificate2? _ca;
    MqttServer? _server;
    int _port;

    public async Task InitializeAsync()
    {
        DevPki.Ensure(_directory, ["soil-001", "soil-002", "pump-001", "pump-002"]);
        _ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(_directory, "ca.crt")));
        var serverCertificate = CertificateFactory.LoadPem(Path.Combine(_directory, "server.crt"), Path.Combine(_directory, "server.key"));
        _port = FreeLoopbackPort();
        var options = new MqttServerOptionsBuilder()
            .WithoutDefaultEndpoint()
            .WithEncryptedEndpoint()
            .WithEncryptedEndpointPort(_port)
            .WithEncryptedEndpointBoundIPAddress(IPAddress.Loopback)
            .WithEncryptedEndpointBoundIPV6Address(IPAddress.None)
            .WithEncryptionCertificate(serverCertificate)
            .WithClientCertificate(ValidateClientCertificate)
            .Build();
        _server = new MqttServerFactory().CreateMqttServer(options);
        _server.InterceptingPublishAsync += e =>
        {
            _published.Enqueue((e.ApplicationMessage.Topic, Encoding.UTF8.GetString(e.ApplicationMessage.Payload)));
            return Task.CompletedTask;
        };
        _server.ClientConnectedAsync += e =>
        {
            _connected.AddOrUpdate(e.ClientId, 1, (_, n) => n + 1);
            return Task.CompletedTask;
        };
        _server.ClientDisconnectedAsync += e =>
        {
            _disconnected.AddOrUpdate(e.ClientId, 1, (_, n) => n + 1);
            return Task.CompletedTask;
        };
        await _server.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.StopAsync();
            _server.Dispose();
        }
        _ca?.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task RunAsync_sensors_report_and_pumps_obey_commands_over_mutual_tls()
    {
        var log = new ConcurrentQueue<string>();
        var options = new FarmSimulationOptions("127.0.0.1", _port, _directory, Sensors: 2, Pumps: 2, Farm, TimeSpan.FromMilliseconds(200), Seed: 1);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(9));
        var run = Task.CompletedTask;
        await using (var simulation = new FarmSimulation(options, TimeProvider.System, log.Enqueue))
        {
            run = simulation.RunAsync(stop.Token);

            // Every device connects with its own certificate, client id = thing name.
            await WaitUntilAsync(() => Data("soil-001").Count > 0 && Data("soil-002").Count > 0 && States("pump-001").Count > 0 && States("pump-002").Count > 0);
            Assert.Equal(["pump-001", "pump-002", "soil-001", "soil-002"], _connected.Keys.Order());
            var reading = JsonDocument.Parse(Data("soil-001")[0]).RootElement;
            Assert.Equal(["temperature", "humidity", "ph", "battery", "timestamp"], reading.EnumerateObject().Select(p => p.Name));
            Assert.InRange(reading.GetProperty("humidity").GetDouble(), 45, 60);
            Assert.InRange(reading.GetProperty("timestamp").GetInt64(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 10, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
            Assert.StartsWith("""{"state":"OFF","until":null,"timestamp":""", States("pump-001")[0], StringComparison.Ordinal);

            // ON: the pump reports ON with its deadline, and waters only its own sensor (soil-001).
            await InjectAsync("farmT/pump/pump-001/cmd", """{"command":"ON","duration":60}""");
            await WaitUntilAsync(() => States("pump-001").Any(s => s.Contains("\"ON\"", StringComparison.Ordinal)));
            var on = JsonDocument.Parse(States("pump-001").First(s => s.Contains("\"ON\"", StringComparison.Ordinal))).RootElement;
            Assert.InRange(on.GetProperty("until").GetInt64() - on.GetProperty("timestamp").GetInt64(), 59, 61);
            Assert.Equal(["pump-001"], simulation.GetStatus().PumpsOn);
            var watered = simulation.Sensors[0].LastReading!.Humidity;
            var dry = simulation.Sensors[1].LastReading!.Humidity;
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.True(simulation.Sensors[0].LastReading!.Humidity > watered, "the watered sensor's humidity should rise");
            Assert.True(simulation.Sensors[1].LastReading!.Humidity < dry, "the other sensor's humidity should keep falling");

            // Malformed commands are counted and ignored; OFF turns the pump off.
            await InjectAsync("farmT/pump/pump-001/cmd", """{"command":42}""");
            await InjectAsync("farmT/pump/pump-001/cmd", "not json");
            await WaitUntilAsync(() => simulation.Pumps[0].CommandsIgnored == 2);
            Assert.True(simulation.Pumps[0].State.IsOn(DateTimeOffset.UtcNow));
            await InjectAsync("farmT/pump/pump-001/cmd", """{"command":"OFF"}""");
            await WaitUntilAsync(() => States("pump-001").Count(s => s.StartsWith("""{"state":"OFF""", StringComparison.Ordinal)) >= 2);

            var status = simulation.GetStatus();
            Assert.Equal((2, 2, 4L, 2L), (status.SensorsConnected, status.PumpsConnected, status.CommandsReceived, status.CommandsIgnored));
            Assert.Empty(status.PumpsOn);
            Assert.True(status.ReadingsSent >= 10, $"only {status.ReadingsSent} readings");
            Assert.Equal(0, status.ReadingsFailed);
            Assert.Contains(log, l => l == "pump-001 ON for 60 s");

            await stop.CancelAsync();
            await run;
        }

        // Disposal disconnects every device.
        await WaitUntilAsync(() => _disconnected.Count == 4);
        Assert.True(run.IsCompletedSuccessfully);
    }

    List<string> Data(string sensor) => _published.Where(m => m.Topic == $"{Farm}/sensor/{sensor}/data").Select(m => m.Payload).ToList();

    List<string> States(string pump) => _published.Where(m => m.Topic == $"{Farm}/pump/{pump}/state").Select(m => m.Payload).ToList();

    async Task InjectAsync(string topic, string payload)
    {
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();
        await _server!.InjectApplicationMessage(new InjectedMqttApplicationMessage(message) { SenderClientId = "platform" });
    }

    static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for the condition");
            await Task.Delay(25);
        }
    }

    bool ValidateClientCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return false;
        }
        using var client = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.Add(_ca!);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return custom.Build(client);
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
