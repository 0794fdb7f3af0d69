using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using IoTServerless.Testing;

namespace IoTServerless.EndToEnd.Tests;

/// <summary>
/// Unmodified third-party clients (Debian's mosquitto-clients) against the stack: mutual TLS with
/// a device certificate, QoS 1 publish and subscribe, presence recorded. Skipped where the tools
/// are not installed (apt-get install mosquitto-clients).
/// </summary>
[Collection(LocalStackCollection.Name)]
public sealed class MosquittoClientTests(LocalStack stack)
{
    static bool Installed(string tool) => (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(':').Any(dir => File.Exists(Path.Combine(dir, tool)));

    string[] TlsArgs(string clientId)
    {
        var (cert, key) = stack.Pki.DevicePem(clientId);
        return ["-h", "localhost", "-p", stack.Broker.MqttPort.ToString(), "--cafile", stack.Pki.CaPath, "--cert", cert, "--key", key, "-i", clientId, "-q", "1"];
    }

    [SkippableFact]
    public async Task MosquittoSubAndPub_overMutualTls_exchangeAMessage_andPresenceIsRecorded()
    {
        Skip.IfNot(Installed("mosquitto_sub") && Installed("mosquitto_pub"), "mosquitto-clients is not installed");
        await stack.RegisterThingAsync("mosq-sub");
        await stack.RegisterThingAsync("mosq-pub");

        var sub = new ProcessStartInfo("mosquitto_sub") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in TlsArgs("mosq-sub").Concat(["-t", "farmA/pump/mosq/#", "-C", "1", "-v", "-W", "20"]))
        {
            sub.ArgumentList.Add(a);
        }
        using var subscriber = Process.Start(sub)!;
        using var http = stack.Functions.CreateClient();
        Assert.True(await Eventually.TrueAsync(async () =>
        {
            using var response = await http.GetAsync("api/things/mosq-sub");
            return response.IsSuccessStatusCode
                && (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("connectivity").GetProperty("connected").GetBoolean();
        }, TimeSpan.FromSeconds(15)), "mosquitto_sub's connection should be recorded");

        var pub = new ProcessStartInfo("mosquitto_pub") { RedirectStandardError = true };
        foreach (var a in TlsArgs("mosq-pub").Concat(["-t", "farmA/pump/mosq/cmd", "-m", "{\"command\":\"OFF\"}"]))
        {
            pub.ArgumentList.Add(a);
        }
        using var publisher = Process.Start(pub)!;
        await publisher.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(publisher.ExitCode == 0, await publisher.StandardError.ReadToEndAsync());

        var output = await subscriber.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(20));
        await subscriber.WaitForExitAsync();
        Assert.Equal("farmA/pump/mosq/cmd {\"command\":\"OFF\"}", output.Trim());
    }

    [SkippableFact]
    public async Task MosquittoPub_withCertificateFromUnknownCa_isRefused()
    {
        Skip.IfNot(Installed("mosquitto_pub"), "mosquitto-clients is not installed");
        var rogue = Core.Security.CertificateFactory.CreateDeviceCertificate(stack.Pki.RogueCa, "rogue");
        var cert = Path.Combine(stack.Pki.Directory, "rogue.crt");
        var key = Path.Combine(stack.Pki.Directory, "rogue.key");
        Core.Security.CertificateFactory.WritePem(rogue, cert, key);
        var pub = new ProcessStartInfo("mosquitto_pub") { RedirectStandardError = true };
        foreach (var a in new[] { "-h", "localhost", "-p", stack.Broker.MqttPort.ToString(), "--cafile", stack.Pki.CaPath, "--cert", cert, "--key", key, "-i", "rogue", "-q", "1", "-t", "x/y", "-m", "z" })
        {
            pub.ArgumentList.Add(a);
        }
        using var publisher = Process.Start(pub)!;
        await publisher.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.NotEqual(0, publisher.ExitCode);
    }
}
