using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using FarmSimulator.Certificates;
using FarmSimulator.Simulation;

namespace FarmSimulator.Provisioning;

/// <summary>
/// Registers the farm with the platform through its HTTP API, as an operator would with AWS IoT:
/// the policies, one thing per device (sensors carry the <c>pump</c> they are watered by), each
/// device's certificate (registered ACTIVE), attached to its thing and its policies (a pump's to
/// <see cref="FarmPolicies.Pump"/> and <see cref="FarmPolicies.PumpShadow"/>). A read-only monitor
/// identity is created with CreateKeysAndCertificate. Everything is idempotent.
/// </summary>
public sealed class FarmProvisioner(HttpClient http, TextWriter output)
{
    public async Task<int> ProvisionAsync(string certificatesDirectory, string farm, int sensors, int pumps, Uri? irrigationController, CancellationToken cancellationToken)
    {
        await EnsurePolicyAsync(FarmPolicies.Sensor, FarmPolicies.SensorDocument(farm), cancellationToken);
        await EnsurePolicyAsync(FarmPolicies.Pump, FarmPolicies.PumpDocument(farm), cancellationToken);
        await EnsurePolicyAsync(FarmPolicies.PumpShadow, FarmPolicies.PumpShadowDocument(), cancellationToken);
        await EnsurePolicyAsync(FarmPolicies.Monitor, FarmPolicies.MonitorDocument(farm), cancellationToken);

        var devices = Path.Combine(certificatesDirectory, DevPki.DevicesFolder);
        var count = 0;
        for (var i = 1; i <= sensors; i++)
        {
            var thing = FarmNaming.SensorName(i);
            var pump = FarmNaming.PumpIndexForSensor(i, pumps) is { } p ? FarmNaming.PumpName(p) : null;
            var attributes = new Dictionary<string, string> { ["farm"] = farm, ["kind"] = "soil-sensor" };
            if (pump is not null)
            {
                attributes["pump"] = pump;
            }
            await ProvisionDeviceAsync(thing, attributes, Path.Combine(devices, thing + ".crt"), [FarmPolicies.Sensor], cancellationToken);
            count++;
        }
        for (var i = 1; i <= pumps; i++)
        {
            var thing = FarmNaming.PumpName(i);
            await ProvisionDeviceAsync(thing, new Dictionary<string, string> { ["farm"] = farm, ["kind"] = "irrigation-pump" }, Path.Combine(devices, thing + ".crt"), [FarmPolicies.Pump, FarmPolicies.PumpShadow], cancellationToken);
            count++;
        }
        await ProvisionMonitorAsync(devices, farm, cancellationToken);
        if (irrigationController is not null)
        {
            await EnsureRulesAsync(farm, irrigationController, cancellationToken);
            output.WriteLine($"installed the rules {FarmRules.SoilTelemetry} and {FarmRules.LowHumidity} (IrrigationController at {irrigationController})");
        }
        output.WriteLine($"provisioned {count} devices and {FarmPolicies.MonitorThing} (policies {FarmPolicies.Sensor}, {FarmPolicies.Pump}, {FarmPolicies.PumpShadow}, {FarmPolicies.Monitor})");
        return count;
    }

    async Task ProvisionDeviceAsync(string thing, Dictionary<string, string> attributes, string certificatePath, string[] policies, CancellationToken cancellationToken)
    {
        await EnsureThingAsync(thing, attributes, cancellationToken);
        using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(certificatePath));
        var certificateId = Convert.ToHexStringLower(SHA256.HashData(certificate.RawData));
        (await SendAsync(HttpMethod.Post, "api/certificate/register-no-ca", new { certificatePem = certificate.ExportCertificatePem(), status = "ACTIVE" }, cancellationToken, allowConflict: true)).Dispose();
        await AttachAsync(thing, certificateId, policies, cancellationToken);
    }

    async Task ProvisionMonitorAsync(string devices, string farm, CancellationToken cancellationToken)
    {
        var thing = FarmPolicies.MonitorThing;
        await EnsureThingAsync(thing, new Dictionary<string, string> { ["farm"] = farm, ["kind"] = "monitor" }, cancellationToken);
        var certificatePath = Path.Combine(devices, thing + ".crt");
        var keyPath = Path.Combine(devices, thing + ".key");
        string certificateId;
        if (File.Exists(certificatePath) && File.Exists(keyPath))
        {
            using var existing = X509Certificate2.CreateFromPem(File.ReadAllText(certificatePath));
            certificateId = Convert.ToHexStringLower(SHA256.HashData(existing.RawData));
            // Issued by an earlier run; a platform with fresh storage does not know it yet.
            (await SendAsync(HttpMethod.Post, "api/certificate/register-no-ca", new { certificatePem = existing.ExportCertificatePem(), status = "ACTIVE" }, cancellationToken, allowConflict: true)).Dispose();
        }
        else
        {
            using var response = await SendAsync(HttpMethod.Post, "api/keys-and-certificate?setAsActive=true", null, cancellationToken);
            var created = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
            certificateId = created.GetProperty("certificateId").GetString()!;
            Directory.CreateDirectory(devices);
            await File.WriteAllTextAsync(certificatePath, created.GetProperty("certificatePem").GetString(), cancellationToken);
            var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite; // the private key is never readable by others
            }
            using (var key = new FileStream(keyPath, options))
            using (var writer = new StreamWriter(key))
            {
                await writer.WriteAsync(created.GetProperty("keyPair").GetProperty("PrivateKey").GetString());
            }
        }
        await AttachAsync(thing, certificateId, [FarmPolicies.Monitor], cancellationToken);
    }

    async Task AttachAsync(string thing, string certificateId, string[] policies, CancellationToken cancellationToken)
    {
        using var attach = new HttpRequestMessage(HttpMethod.Put, $"api/things/{thing}/principals");
        attach.Headers.Add("x-amzn-principal", certificateId);
        using (var response = await http.SendAsync(attach, cancellationToken))
        {
            await EnsureAsync(response, attach.RequestUri!, allowConflict: false, cancellationToken);
        }
        foreach (var policy in policies)
        {
            (await SendAsync(HttpMethod.Put, $"api/target-policies/{policy}", new { target = certificateId }, cancellationToken)).Dispose();
        }
    }

    /// <summary>Creates the seed rules, or replaces them with the current definition when they exist.</summary>
    async Task EnsureRulesAsync(string farm, Uri irrigationController, CancellationToken cancellationToken)
    {
        foreach (var (name, body) in FarmRules.Bodies(farm, irrigationController))
        {
            using var created = await SendAsync(HttpMethod.Post, $"api/rules/{name}", body, cancellationToken, allowConflict: true);
            if (created.StatusCode == HttpStatusCode.Conflict)
            {
                (await SendAsync(HttpMethod.Patch, $"api/rules/{name}", body, cancellationToken)).Dispose();
            }
        }
    }

    async Task EnsurePolicyAsync(string name, string document, CancellationToken cancellationToken)
        => (await SendAsync(HttpMethod.Post, $"api/policies/{name}", new { policyDocument = document }, cancellationToken, allowConflict: true)).Dispose();

    async Task EnsureThingAsync(string thing, Dictionary<string, string> attributes, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Post, $"api/things/{thing}", new { attributePayload = new { attributes } }, cancellationToken, allowConflict: true);
        if (response.StatusCode == HttpStatusCode.Conflict)
        {
            // It exists with other settings: bring its attributes up to date.
            (await SendAsync(HttpMethod.Patch, $"api/things/{thing}", new { attributePayload = new { attributes, merge = true } }, cancellationToken)).Dispose();
        }
    }

    async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object? body, CancellationToken cancellationToken, bool allowConflict = false)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }
        var response = await http.SendAsync(request, cancellationToken);
        await EnsureAsync(response, request.RequestUri!, allowConflict, cancellationToken);
        return response;
    }

    static async Task EnsureAsync(HttpResponseMessage response, Uri uri, bool allowConflict, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode || (allowConflict && response.StatusCode == HttpStatusCode.Conflict))
        {
            return;
        }
        var detail = await response.Content.ReadAsStringAsync(cancellationToken);
        throw new InvalidOperationException($"{uri} answered {(int)response.StatusCode}: {detail}");
    }
}
