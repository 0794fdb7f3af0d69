using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Azure.Data.Tables;
using FarmSimulator.Provisioning;
using IoTServerless.Broker.Sinks;
using IoTServerless.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTServerless.EndToEnd.Tests.Irrigation;

/// <summary>
/// The irrigation loop over the real stack, with the seed rules exactly as the local stack installs
/// them: a sensor's reading over TLS → broker → rules → a row in <c>IoTSensorData</c>, and for a dry
/// reading the IrrigationController function → an ON command on the pump's topic.
/// </summary>
[Collection(LocalStackCollection.Name)]
public sealed class IrrigationLoopTests(LocalStack stack) : IAsyncLifetime
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    public async Task InitializeAsync()
    {
        using var http = stack.Functions.CreateClient();
        foreach (var (name, body) in FarmRules.Bodies("farmA", new Uri(stack.Functions.BaseUrl, "api/irrigation")))
        {
            using var created = await http.PostAsJsonAsync($"api/rules/{name}", body);
            if (created.StatusCode == HttpStatusCode.Conflict)
            {
                continue;
            }
            Assert.True(created.IsSuccessStatusCode, $"{name}: {(int)created.StatusCode} {await created.Content.ReadAsStringAsync()}");
        }
        // A rule change reaches the broker's forwarding index within its poll interval (5 s at most).
        var forwarding = stack.Broker.Services.GetRequiredService<ForwardingIndex>();
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(forwarding.CurrentFilters.Contains("farmA/sensor/+/data")), TimeSpan.FromSeconds(5)),
            "the broker should forward the seed rules' topics within 5 s");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    async Task RegisterSensorAsync(string sensor, string pump)
    {
        using var http = stack.Functions.CreateClient();
        using var response = await http.PostAsJsonAsync($"api/things/{sensor}", new { attributePayload = new { attributes = new Dictionary<string, string> { ["farm"] = "farmA", ["pump"] = pump } } });
        response.EnsureSuccessStatusCode();
    }

    static async Task PublishAsync(IMqttClient client, string topic, string payload)
    {
        var result = await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(Encoding.UTF8.GetBytes(payload))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.True(result.IsSuccess, $"publish refused: {result.ReasonCode}");
    }

    async Task<List<TableEntity>> RowsAsync(string table, string partition)
    {
        var client = new TableServiceClient(stack.Azurite.ConnectionString).GetTableClient(table);
        try
        {
            var rows = new List<TableEntity>();
            await foreach (var row in client.QueryAsync<TableEntity>(e => e.PartitionKey == partition))
            {
                rows.Add(row);
            }
            return rows;
        }
        catch (Azure.RequestFailedException ex) when (ex.Status == 404)
        {
            return [];
        }
    }

    async Task<List<TableEntity>> RowsWhenAsync(string table, string partition, int count)
    {
        List<TableEntity> rows = [];
        await Eventually.TrueAsync(async () => (rows = await RowsAsync(table, partition)).Count >= count, Patience, TimeSpan.FromMilliseconds(250));
        return rows;
    }

    [Fact]
    public async Task DryReading_isStoredAndSwitchesTheSensorsPumpOn()
    {
        var (sensor, pump) = (Unique("soil"), Unique("pump"));
        await RegisterSensorAsync(sensor, pump);
        await using var listener = await PumpListener.ConnectAsync(stack, pump);
        using var device = await TestMqtt.ConnectAsync(sensor, stack.Broker.MqttPort, stack.Pki.Device(sensor), stack.Pki.Ca);

        await PublishAsync(device, $"farmA/sensor/{sensor}/data", """{"temperature":22.5,"humidity":30,"ph":6.4,"battery":3.8}""");

        Assert.Equal("""{"command":"ON","duration":600}""", await listener.NextCommandAsync(Patience));
        var row = Assert.Single(await RowsWhenAsync(FarmRules.TelemetryTable, sensor, 1));
        Assert.Equal(30, Convert.ToDouble(row["humidity"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(22.5, Convert.ToDouble(row["temperature"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(sensor, row["sensorId"]);
        Assert.True(row.ContainsKey("ts"));
        Assert.False(row.ContainsKey("battery"), "SoilTelemetry selects temperature, humidity, ph, ts and sensorId only");
    }

    [Fact]
    public async Task MoistReading_isStoredAndCommandsNothing()
    {
        var (sensor, pump) = (Unique("soil"), Unique("pump"));
        await RegisterSensorAsync(sensor, pump);
        await using var listener = await PumpListener.ConnectAsync(stack, pump);
        using var device = await TestMqtt.ConnectAsync(sensor, stack.Broker.MqttPort, stack.Pki.Device(sensor), stack.Pki.Ca);

        await PublishAsync(device, $"farmA/sensor/{sensor}/data", """{"temperature":21,"humidity":50,"ph":6.6}""");

        var row = Assert.Single(await RowsWhenAsync(FarmRules.TelemetryTable, sensor, 1));
        Assert.Equal(50, Convert.ToDouble(row["humidity"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Empty(await listener.CommandsWithinAsync(TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public async Task Qos1Readings_whileAzuriteRestarts_allBecomeRows()
    {
        const int readings = 60;
        var (sensor, pump) = (Unique("soil"), Unique("pump"));
        await RegisterSensorAsync(sensor, pump);
        using var device = await TestMqtt.ConnectAsync(sensor, stack.Broker.MqttPort, stack.Pki.Device(sensor), stack.Pki.Ca);
        using var turn = new SemaphoreSlim(1, 1); // held by the test while it stops Azurite

        var publishing = Task.Run(async () =>
        {
            for (var i = 0; i < readings; i++)
            {
                await turn.WaitAsync();
                try
                {
                    // One outstanding at a time (the PUBACK waits for the functions), so each reading has its own ${timestamp()} row key.
                    await PublishAsync(device, $"farmA/sensor/{sensor}/data", $$"""{"temperature":20,"humidity":{{40 + i % 10}},"ph":6.5,"seq":{{i}}}""");
                }
                finally
                {
                    turn.Release();
                }
            }
        });
        await Eventually.TrueAsync(async () => (await RowsAsync(FarmRules.TelemetryTable, sensor)).Count >= 10, Patience);
        // Azurite is stopped between two readings, and the next ones are published into the outage. Stopped
        // while it is writing, Azurite can answer a write it then loses (it saves its databases on SIGTERM
        // before that write lands), which the Table service does not do: that would fail this test for the emulator's sake.
        await turn.WaitAsync();
        await stack.Azurite.StopAsync();
        turn.Release();
        await Task.Delay(TimeSpan.FromSeconds(3));
        await stack.Azurite.StartAgainAsync();
        await publishing.WaitAsync(TimeSpan.FromSeconds(90));

        // A reading whose row write failed while Azurite was down, and whose errorAction ran once it
        // was back, is in the error table with its failure document, as AWS IoT does: accounted for.
        List<TableEntity> rows = [], errors = [];
        await Eventually.TrueAsync(async () =>
        {
            rows = await RowsAsync(FarmRules.TelemetryTable, sensor);
            errors = await RowsAsync(FarmRules.ErrorTable, sensor);
            return rows.Count + errors.Count >= readings;
        }, Patience, TimeSpan.FromMilliseconds(250));
        Assert.All(errors, e => Assert.Contains("\"seq\"", Encoding.UTF8.GetString(Convert.FromBase64String(e.GetString("base64OriginalPayload"))), StringComparison.Ordinal));
        Assert.Equal(readings, rows.Count + errors.Count);
    }

    [Fact]
    public async Task FailingWebhook_isRetriedThenTheErrorActionGetsTheFailureDocument()
    {
        var attempts = 0;
        var failures = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var webhooks = WebApplication.CreateBuilder().Build();
        webhooks.Urls.Add("http://127.0.0.1:0");
        webhooks.MapPost("/broken", () => { Interlocked.Increment(ref attempts); return Results.StatusCode(500); });
        webhooks.MapPost("/errors", async (HttpRequest request) =>
        {
            failures.TrySetResult(await request.ReadFromJsonAsync<JsonElement>());
            return Results.Ok();
        });
        await webhooks.StartAsync();
        var baseUrl = webhooks.Urls.First();
        var rule = Unique("Broken").Replace('-', '_');
        var topic = $"e2e/{rule}/data";
        using var http = stack.Functions.CreateClient();
        using (var created = await http.PostAsJsonAsync($"api/rules/{rule}", new
        {
            sql = $"SELECT * FROM 'e2e/{rule}/+'",
            actions = new[] { new { http = new { url = $"{baseUrl}/broken" } } },
            errorAction = new { http = new { url = $"{baseUrl}/errors" } },
        }))
        {
            Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        }
        using var device = await TestMqtt.ConnectAsync("e2e-broken", stack.Broker.MqttPort, stack.Pki.Device("e2e-broken"), stack.Pki.Ca);

        // The broker's rule index picks the new rule up within 5 s; publish until the rule has seen one.
        JsonElement failure = default;
        Assert.True(await Eventually.TrueAsync(async () =>
        {
            await PublishAsync(device, topic, """{"humidity":12}""");
            var done = await Task.WhenAny(failures.Task, Task.Delay(1000));
            if (done == failures.Task)
            {
                failure = await failures.Task;
                return true;
            }
            return false;
        }, Patience), "the errorAction should receive the failure document");

        Assert.Equal(rule, failure.GetProperty("ruleName").GetString());
        Assert.Equal(topic, failure.GetProperty("topic").GetString());
        Assert.Equal("e2e-broken", failure.GetProperty("clientId").GetString());
        Assert.Equal("""{"humidity":12}""", Encoding.UTF8.GetString(Convert.FromBase64String(failure.GetProperty("base64OriginalPayload").GetString()!)));
        var failed = Assert.Single(failure.GetProperty("failures").EnumerateArray());
        Assert.Equal("HttpAction", failed.GetProperty("failedAction").GetString());
        Assert.Contains("/broken", failed.GetProperty("failedResource").GetString());
        Assert.Contains("500", failed.GetProperty("errorMessage").GetString());
        Assert.True(Volatile.Read(ref attempts) > 1, $"the webhook should have been retried (attempts: {attempts})");
        await http.DeleteAsync($"api/rules/{rule}");
    }
}
