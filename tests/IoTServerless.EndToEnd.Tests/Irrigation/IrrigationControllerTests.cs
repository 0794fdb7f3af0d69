using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace IoTServerless.EndToEnd.Tests.Irrigation;

/// <summary>
/// The example irrigation controller over the real stack: it finds the sensor's pump in the registry,
/// commands it over MQTT, and leaves a running or just-commanded pump alone.
/// </summary>
[Collection(LocalStackCollection.Name)]
public sealed class IrrigationControllerTests(LocalStack stack)
{
    const string OnCommand = "{\"command\":\"ON\",\"duration\":600}";

    static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    async Task RegisterSensorAsync(HttpClient http, string sensor, string? pump)
    {
        var attributes = new Dictionary<string, string> { ["farm"] = "farmA", ["kind"] = "soil-sensor" };
        if (pump is not null)
        {
            attributes["pump"] = pump;
        }
        using var response = await http.PostAsJsonAsync($"api/things/{sensor}", new { attributePayload = new { attributes } });
        response.EnsureSuccessStatusCode();
    }

    static async Task<(HttpStatusCode Status, JsonElement Body)> IrrigateAsync(HttpClient http, string body)
    {
        using var response = await http.PostAsync("api/irrigation", new StringContent(body, Encoding.UTF8, "application/json"));
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    static string Reading(string sensor, double humidity) => $$"""{"temperature":21.5,"humidity":{{humidity}},"ph":6.6,"sensorId":"{{sensor}}"}""";

    async Task ReportPumpAsync(HttpClient http, string pump, string reported)
    {
        using var response = await http.PostAsync($"api/things/{pump}/shadow", new StringContent($$$"""{"state":{"reported":{{{reported}}}}}""", Encoding.UTF8, "application/json"));
        response.EnsureSuccessStatusCode();
    }

    [Fact]
    public async Task Irrigate_drySensorWithIdlePump_commandsThePumpOnce()
    {
        using var http = stack.Functions.CreateClient();
        var (sensor, pump) = (Unique("soil"), Unique("pump"));
        await RegisterSensorAsync(http, sensor, pump);
        await using var listener = await PumpListener.ConnectAsync(stack, pump);

        var (status, body) = await IrrigateAsync(http, Reading(sensor, 30));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Commanded", body.GetProperty("outcome").GetString());
        Assert.Equal($"farmA/pump/{pump}/cmd", body.GetProperty("commandTopic").GetString());
        Assert.Equal(OnCommand, await listener.NextCommandAsync());

        // A second dry reading before the pump has reported is not a second command.
        (status, body) = await IrrigateAsync(http, Reading(sensor, 29));
        Assert.Equal("AlreadyCommanded", body.GetProperty("outcome").GetString());
        Assert.Empty(await listener.CommandsWithinAsync(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task Irrigate_concurrentCallsForSensorsSharingAPump_commandItOnce()
    {
        using var http = stack.Functions.CreateClient();
        var pump = Unique("pump");
        var sensors = Enumerable.Range(0, 4).Select(_ => Unique("soil")).ToArray();
        foreach (var sensor in sensors)
        {
            await RegisterSensorAsync(http, sensor, pump);
        }
        await using var listener = await PumpListener.ConnectAsync(stack, pump);

        var results = await Task.WhenAll(sensors.Select(s => IrrigateAsync(http, Reading(s, 20))));

        Assert.All(results, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        Assert.Single(results, r => r.Body.GetProperty("outcome").GetString() == "Commanded");
        Assert.Equal([OnCommand], await listener.CommandsWithinAsync(TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public async Task Irrigate_pumpReportingOnInItsShadow_isNotCommandedAgain()
    {
        using var http = stack.Functions.CreateClient();
        var (sensor, pump) = (Unique("soil"), Unique("pump"));
        await RegisterSensorAsync(http, sensor, pump);
        var until = DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds();
        await ReportPumpAsync(http, pump, $$"""{"pump":"ON","onUntil":{{until}}}""");
        await using var listener = await PumpListener.ConnectAsync(stack, pump);

        var (status, body) = await IrrigateAsync(http, Reading(sensor, 25));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("AlreadyRunning", body.GetProperty("outcome").GetString());
        Assert.Empty(await listener.CommandsWithinAsync(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task Irrigate_pumpWhoseReportedRunHasEnded_isCommanded()
    {
        using var http = stack.Functions.CreateClient();
        var (sensor, pump) = (Unique("soil"), Unique("pump"));
        await RegisterSensorAsync(http, sensor, pump);
        var ended = DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds();
        await ReportPumpAsync(http, pump, $$"""{"pump":"ON","onUntil":{{ended}}}""");
        await using var listener = await PumpListener.ConnectAsync(stack, pump);

        var (_, body) = await IrrigateAsync(http, Reading(sensor, 25));

        Assert.Equal("Commanded", body.GetProperty("outcome").GetString());
        Assert.Equal(OnCommand, await listener.NextCommandAsync());
    }

    [Fact]
    public async Task Irrigate_sensorWithoutPumpOrUnknown_commandsNothing()
    {
        using var http = stack.Functions.CreateClient();
        var lonely = Unique("soil");
        await RegisterSensorAsync(http, lonely, pump: null);

        var (status, body) = await IrrigateAsync(http, Reading(lonely, 10));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("NoPump", body.GetProperty("outcome").GetString());

        (status, body) = await IrrigateAsync(http, Reading(Unique("ghost"), 10));
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("ghost", body.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("{\"humidity\":30}")]
    [InlineData("{\"sensorId\":42}")]
    [InlineData("[1,2]")]
    [InlineData("not json")]
    public async Task Irrigate_malformedReading_is400Problem(string body)
    {
        using var http = stack.Functions.CreateClient();
        using var response = await http.PostAsync("api/irrigation", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
}
