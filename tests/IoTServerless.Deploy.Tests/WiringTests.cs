using System.Text.Json.Nodes;
using IoTServerless.Broker;
using IoTServerless.Functions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;

namespace IoTServerless.Deploy.Tests;

/// <summary>
/// The Bicep and the code agree on configuration, for each app: every key the app reads is set by the
/// Bicep, has a default, or is listed below as optional (with the reason); every app setting the Bicep
/// sets is read by the app (or is one of the platform's own settings listed below). The keys an app
/// reads are found by running its service registration (see <see cref="ConfigurationReads"/>); the
/// settings the Bicep sets are read from the compiled template.
/// </summary>
public sealed class WiringTests(CompiledTemplate template, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<CompiledTemplate>
{
    /// <summary>Keys the function app reads that have no default and that Azure does not need.</summary>
    static readonly Dictionary<string, string> FunctionsOptional = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Storage:ConnectionString"] = "local runs (Azurite); Azure uses Storage:TableServiceUri with the identity",
        ["Rules:Actions:FunctionAuthAudience"] = "only for function actions that call another app protected by Entra ID (a bearer token for this audience)",
    };

    /// <summary>Keys the broker reads that have no default and that Azure does not need.</summary>
    static readonly Dictionary<string, string> BrokerOptional = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Storage:ConnectionString"] = "local runs (Azurite); Azure uses Storage:TableServiceUri with the identity",
        ["Broker:Tls:ClientCaPath"] = "optional CA bundle; without it CONNECT decides (certificates registered without a CA)",
        ["Broker:Events:WebhookUrl"] = "Webhook sink only (local); Azure uses the EventGrid sink",
        ["Broker:Events:WebhookKey"] = "Webhook sink only (local)",
        ["Storage:QueueServiceUri"] = "bound with the shared Storage section; the broker uses tables only",
        ["Storage:BlobServiceUri"] = "bound with the shared Storage section; the broker uses tables only",
    };

    /// <summary>Settings the Functions host and its extensions read, not our code.</summary>
    static readonly HashSet<string> FunctionsHostSettings = new(StringComparer.OrdinalIgnoreCase)
    {
        "AzureWebJobsStorage__accountName",
        "AzureWebJobsStorage__credential",
        "AzureWebJobsStorage__clientId",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    };

    /// <summary>Settings whose default is the local one: Azure must set these, to these values.</summary>
    static readonly Dictionary<string, string> FunctionsAzureValues = new(StringComparer.OrdinalIgnoreCase)
    {
        ["CertificateAuthority:Kind"] = "KeyVault",
    };

    static readonly Dictionary<string, string> BrokerAzureValues = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Broker:Events:Sink"] = "EventGrid",
        ["Broker:Api:BindAddress"] = "0.0.0.0",
    };

    static ConfigurationReads FunctionReads()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], ContentRootPath = Path.GetTempPath(), EnvironmentName = "Production" });
        return ConfigurationReads.Of(builder.Configuration, builder.Services, () => builder.AddIoTServerlessFunctions());
    }

    static ConfigurationReads BrokerReads()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [], ContentRootPath = Path.GetTempPath(), EnvironmentName = "Production" });
        return ConfigurationReads.Of(builder.Configuration, builder.Services, () => builder.AddBroker());
    }

    /// <summary>The function app's settings: name → value (an ARM expression or a literal).</summary>
    Dictionary<string, string> FunctionAppSettings()
    {
        var site = Assert.Single(template.Resources("Microsoft.Web/sites"));
        return site["properties"]!["siteConfig"]!["appSettings"]!.AsArray()
            .ToDictionary(s => s!["name"]!.GetValue<string>(), s => s!["value"]!.ToString(), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The broker container's environment: name → value or secretRef.</summary>
    Dictionary<string, string> BrokerEnvironment()
    {
        var app = Assert.Single(template.Resources("Microsoft.App/containerApps"));
        var container = Assert.Single(app["properties"]!["template"]!["containers"]!.AsArray());
        return container!["env"]!.AsArray()
            .ToDictionary(e => e!["name"]!.GetValue<string>(), e => CompiledTemplate.Evaluate((e!["value"] ?? e["secretRef"])!, app), StringComparer.OrdinalIgnoreCase);
    }

    static string Key(string setting) => setting.Replace("__", ":", StringComparison.Ordinal);

    void AssertWired(string app, ConfigurationReads reads, Dictionary<string, string> settings, IReadOnlyDictionary<string, string> optional,
        IReadOnlySet<string> hostSettings, IReadOnlyDictionary<string, string> azureValues)
    {
        var set = settings.Keys.Select(Key).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var key in reads.Keys.Order(StringComparer.OrdinalIgnoreCase))
        {
            var how = set.Contains(key) ? "set by the Bicep" : optional.TryGetValue(key, out var why) ? "optional: " + why : reads.Defaults.TryGetValue(key, out var d) ? $"default {d}" : "MISSING";
            output.WriteLine($"{app}: {key} — {how}");
        }
        var missing = reads.Keys
            .Where(k => !set.Contains(k) && !reads.Defaults.ContainsKey(k) && !optional.ContainsKey(k))
            .Order().ToList();
        Assert.True(missing.Count == 0, $"{app} reads settings that the Bicep does not set (set them in infra/, or list them as optional with the reason): {string.Join(", ", missing)}");

        var unread = settings.Keys
            .Where(s => !hostSettings.Contains(s) && !reads.Keys.Contains(Key(s)))
            .Order().ToList();
        Assert.True(unread.Count == 0, $"The Bicep sets {app} settings that no code reads: {string.Join(", ", unread)}");

        foreach (var (key, value) in azureValues)
        {
            Assert.Contains(key, reads.Keys);
            var setting = settings.FirstOrDefault(s => string.Equals(Key(s.Key), key, StringComparison.OrdinalIgnoreCase));
            Assert.True(setting.Key is not null, $"{app}: the Bicep must set {key} to {value}");
            Assert.Equal(value, setting.Value);
        }
        Assert.All(optional.Keys, k => Assert.True(reads.Keys.Contains(k), $"{app}: {k} is listed as optional but is not read any more"));
    }

    [SkippableFact]
    public void Function_app_settings_match_what_the_function_app_reads()
    {
        Skip.IfNot(BicepCli.Available, "The pinned Bicep CLI package is linux-x64.");
        var reads = FunctionReads();
        Assert.Contains("Storage:TableServiceUri", reads.Keys);
        Assert.Contains("BrokerApi:Key", reads.Keys);
        AssertWired("the function app", reads, FunctionAppSettings(), FunctionsOptional, FunctionsHostSettings, FunctionsAzureValues);
    }

    [SkippableFact]
    public void Broker_environment_matches_what_the_broker_reads()
    {
        Skip.IfNot(BicepCli.Available, "The pinned Bicep CLI package is linux-x64.");
        var reads = BrokerReads();
        Assert.Contains("Broker:Tls:ServerCertificatePath", reads.Keys);
        Assert.Contains("Storage:TableServiceUri", reads.Keys);
        AssertWired("the broker", reads, BrokerEnvironment(), BrokerOptional, new HashSet<string>(), BrokerAzureValues);
    }

    [SkippableFact]
    public void Secrets_come_from_key_vault_and_connections_use_identities()
    {
        Skip.IfNot(BicepCli.Available, "The pinned Bicep CLI package is linux-x64.");
        var functionSettings = FunctionAppSettings();
        Assert.StartsWith("[format('@Microsoft.KeyVault(SecretUri=", functionSettings["BrokerApi__Key"], StringComparison.Ordinal);
        Assert.Equal("managedidentity", functionSettings["AzureWebJobsStorage__credential"]);
        Assert.DoesNotContain(functionSettings.Keys, k => k.Equals("AzureWebJobsStorage", StringComparison.OrdinalIgnoreCase) || k.Contains("ConnectionString", StringComparison.OrdinalIgnoreCase) && !k.StartsWith("APPLICATIONINSIGHTS", StringComparison.Ordinal));

        var broker = BrokerEnvironment();
        Assert.Equal("broker-api-key", broker["Broker__Api__Key"]);
        var app = Assert.Single(template.Resources("Microsoft.App/containerApps"));
        var secrets = app["properties"]!["configuration"]!["secrets"]!.AsArray();
        Assert.All(secrets, s => Assert.True(s!["keyVaultUrl"] is not null && s["value"] is null, $"secret {s!["name"]} must reference Key Vault"));

        var storage = Assert.Single(template.Resources("Microsoft.Storage/storageAccounts"));
        Assert.False(storage["properties"]!["allowSharedKeyAccess"]!.GetValue<bool>());
        var topic = Assert.Single(template.Resources("Microsoft.EventGrid/topics"));
        Assert.Equal("CloudEventSchemaV1_0", topic["properties"]!["inputSchema"]!.GetValue<string>());
        Assert.True(topic["properties"]!["disableLocalAuth"]!.GetValue<bool>());
    }

    [SkippableFact]
    public void Broker_probes_and_ports_match_its_listeners()
    {
        Skip.IfNot(BicepCli.Available, "The pinned Bicep CLI package is linux-x64.");
        var defaults = new BrokerOptions();
        var app = Assert.Single(template.Resources("Microsoft.App/containerApps"));
        var ingress = app["properties"]!["configuration"]!["ingress"]!;
        // 443: HTTP ingress that requires the device certificate and forwards it to the broker's forwarded WebSocket listener.
        Assert.Equal("http", ingress["transport"]!.GetValue<string>());
        Assert.Equal("require", ingress["clientCertificateMode"]!.GetValue<string>());
        var env = BrokerEnvironment();
        int Port(string name, int fallback) => env.TryGetValue(name, out var v) ? int.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;
        Assert.Equal("true", env["Broker__WebSockets__Forwarded__Enabled"]);
        var forwarded = Port("Broker__WebSockets__Forwarded__Port", defaults.WebSockets.Forwarded.Port);
        var mqtt = Port("Broker__Mqtt__Port", defaults.Mqtt.Port);
        var api = Port("Broker__Api__Port", defaults.Api.Port);
        int Value(JsonNode node) => int.Parse(CompiledTemplate.Evaluate(node, app), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(forwarded, Value(ingress["targetPort"]!));
        var additional = ingress["additionalPortMappings"]!.AsArray().Select(p => (Target: Value(p!["targetPort"]!), External: p["external"]!.GetValue<bool>())).ToList();
        Assert.Contains((mqtt, true), additional);
        Assert.Contains((api, false), additional);

        var container = Assert.Single(app["properties"]!["template"]!["containers"]!.AsArray())!;
        var probes = container["probes"]!.AsArray();
        Assert.Equal(["Liveness", "Readiness", "Startup"], probes.Select(p => p!["type"]!.GetValue<string>()).Order());
        Assert.All(probes, p =>
        {
            Assert.Equal("/healthz", p!["httpGet"]!["path"]!.GetValue<string>());
            Assert.Equal(api, Value(p["httpGet"]!["port"]!));
        });
    }
}
