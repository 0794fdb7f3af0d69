using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Azure.Data.Tables;
using IoTServerless.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTServerless.EndToEnd.Tests.Rules;

/// <summary>
/// The seed rules end to end: created over the HTTP API, a device publishes over MQTT/TLS, the broker
/// forwards (its rule filter index follows the rules table), the functions' rules engine writes rows to
/// Table storage and republishes alerts through the broker to a subscribed client.
/// </summary>
[Collection(LocalStackCollection.Name)]
public sealed class RulesTests(LocalStack stack)
{
    static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task SeedRules_deviceReadings_landInTheTableAndLowHumidityIsRepublishedToSubscribers()
    {
        var farm = "farm" + Guid.NewGuid().ToString("N")[..8];
        var table = "IoTSensorData" + Guid.NewGuid().ToString("N")[..8];
        using var http = stack.Functions.CreateClient();
        var soil = $$$"""
            {"sql":"SELECT temperature, humidity, ph, timestamp() AS ts, topic(3) AS sensorId FROM '{{{farm}}}/sensor/+/data'",
             "actions":[{"table":{"tableName":"{{{table}}}","partitionKey":"${topic(3)}"}}]}
            """;
        var low = $$$"""
            {"sql":"SELECT *, topic(3) AS sensorId FROM '{{{farm}}}/sensor/+/data' WHERE humidity < 35",
             "actions":[{"republish":{"topic":"{{{farm}}}/alerts/${topic(3)}","qos":1}}]}
            """;
        (await http.PostAsync($"api/rules/SoilTelemetry_{farm}", Json(soil))).EnsureSuccessStatusCode();
        (await http.PostAsync($"api/rules/LowHumidity_{farm}", Json(low))).EnsureSuccessStatusCode();

        using var dashboard = await TestMqtt.ConnectAsync("dashboard-" + farm, stack.Broker.MqttPort, stack.Pki.Device("dashboard-" + farm), stack.Pki.Ca);
        var alerts = new ConcurrentQueue<(string Topic, string Payload)>();
        dashboard.ApplicationMessageReceivedAsync += e =>
        {
            alerts.Enqueue((e.ApplicationMessage.Topic, Encoding.UTF8.GetString(e.ApplicationMessage.Payload)));
            return Task.CompletedTask;
        };
        await dashboard.SubscribeAsync($"{farm}/alerts/#", MqttQualityOfServiceLevel.AtLeastOnce);
        using var sensor = await TestMqtt.ConnectAsync("soil-001", stack.Broker.MqttPort, stack.Pki.Device("soil-001"), stack.Pki.Ca);

        // The broker learns the new rules' filters within its poll interval; publish until a reading gets through.
        var rows = new TableServiceClient(stack.Azurite.ConnectionString).GetTableClient(table);
        var n = 0;
        Assert.True(await Eventually.TrueAsync(async () =>
        {
            await sensor.PublishStringAsync($"{farm}/sensor/soil-001/data", $$"""{"temperature":21.5,"humidity":{{30 + n++ % 2 * 20}},"ph":6.8}""", MqttQualityOfServiceLevel.AtLeastOnce);
            return await CountAsync(rows) > 0 && !alerts.IsEmpty;
        }, TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(300)), "no reading reached the table, or no dry reading was republished");
        var (topic, payload) = alerts.First();
        Assert.Equal($"{farm}/alerts/soil-001", topic);
        using var alert = JsonDocument.Parse(payload);
        Assert.Equal(30, alert.RootElement.GetProperty("humidity").GetInt32());
        Assert.Equal("soil-001", alert.RootElement.GetProperty("sensorId").GetString());

        await foreach (var row in rows.QueryAsync<TableEntity>())
        {
            Assert.Equal("soil-001", row.PartitionKey);
            Assert.Equal("soil-001", row.GetString("sensorId"));
            Assert.Equal(21.5, row.GetDouble("temperature"));
        }
    }

    static async Task<int> CountAsync(TableClient table)
    {
        try
        {
            var count = 0;
            await foreach (var _ in table.QueryAsync<TableEntity>(select: ["RowKey"]))
            {
                count++;
            }
            return count;
        }
        catch (Azure.RequestFailedException ex) when (ex.Status == 404)
        {
            return 0;
        }
    }
}
