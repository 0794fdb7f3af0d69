using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using IoTServerless.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTServerless.EndToEnd.Tests;

/// <summary>
/// A real device over TLS through the broker, the event pipeline, the function app and Table storage:
/// presence recorded and served by the HTTP API, a command published over HTTP delivered, the
/// disconnect recorded.
/// </summary>
[Collection(LocalStackCollection.Name)]
public sealed class PresenceAndCommandsTests(LocalStack stack)
{
    async Task<JsonElement?> ConnectivityAsync(HttpClient http, string thing)
    {
        using var response = await http.GetAsync($"api/things/{thing}");
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("connectivity");
    }

    [Fact]
    public async Task Device_connectReceiveCommandDisconnect_isRecordedAndServedByTheApi()
    {
        using var http = stack.Functions.CreateClient();
        await stack.RegisterThingAsync("pump-e2e");
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var pump = await TestMqtt.ConnectAsync("pump-e2e", stack.Broker.MqttPort, stack.Pki.Device("pump-e2e"), stack.Pki.Ca);

        // 1. presence recorded and returned by the HTTP API
        JsonElement? connectivity = null;
        Assert.True(await Eventually.TrueAsync(async () =>
        {
            connectivity = await ConnectivityAsync(http, "pump-e2e");
            return connectivity?.GetProperty("connected").GetBoolean() == true;
        }, TimeSpan.FromSeconds(15)), "the thing should be recorded as connected");
        Assert.True(connectivity!.Value.GetProperty("timestamp").GetInt64() >= before);

        // 2. a command published through POST /api/topics reaches the device
        var command = new TaskCompletionSource<(string Topic, string Payload, MqttQualityOfServiceLevel Qos)>(TaskCreationOptions.RunContinuationsAsynchronously);
        pump.ApplicationMessageReceivedAsync += e =>
        {
            command.TrySetResult((e.ApplicationMessage.Topic, e.ApplicationMessage.ConvertPayloadToString(), e.ApplicationMessage.QualityOfServiceLevel));
            return Task.CompletedTask;
        };
        await pump.SubscribeAsync("farmA/pump/pump-e2e/cmd", MqttQualityOfServiceLevel.AtLeastOnce);
        using (var response = await http.PostAsync("api/topics/farmA/pump/pump-e2e/cmd?qos=1", new StringContent("{\"command\":\"ON\",\"duration\":600}")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        var received = await command.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("farmA/pump/pump-e2e/cmd", received.Topic);
        Assert.Equal("{\"command\":\"ON\",\"duration\":600}", received.Payload);
        Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, received.Qos);

        // 3. the disconnect is recorded with its reason
        await pump.DisconnectAsync();
        pump.Dispose();
        Assert.True(await Eventually.TrueAsync(async () =>
        {
            connectivity = await ConnectivityAsync(http, "pump-e2e");
            return connectivity?.GetProperty("connected").GetBoolean() == false;
        }, TimeSpan.FromSeconds(15)), "the thing should be recorded as disconnected");
        Assert.Equal("CLIENT_INITIATED_DISCONNECT", connectivity!.Value.GetProperty("disconnectReason").GetString());
    }

    [Fact]
    public async Task ConnectionDroppedWithoutDisconnect_isRecordedAsConnectionLost()
    {
        using var http = stack.Functions.CreateClient();
        await stack.RegisterThingAsync("soil-e2e");
        var sensor = await TestMqtt.ConnectAsync("soil-e2e", stack.Broker.MqttPort, stack.Pki.Device("soil-e2e"), stack.Pki.Ca);
        Assert.True(await Eventually.TrueAsync(async () => (await ConnectivityAsync(http, "soil-e2e"))?.GetProperty("connected").GetBoolean() == true, TimeSpan.FromSeconds(15)));

        sensor.Dispose(); // the socket goes away without an MQTT DISCONNECT

        JsonElement? connectivity = null;
        Assert.True(await Eventually.TrueAsync(async () =>
        {
            connectivity = await ConnectivityAsync(http, "soil-e2e");
            return connectivity?.GetProperty("connected").GetBoolean() == false;
        }, TimeSpan.FromSeconds(15)));
        Assert.Equal("CONNECTION_LOST", connectivity!.Value.GetProperty("disconnectReason").GetString());
    }

    [Fact]
    public async Task UnregisteredClient_canConnect_butNoThingIsRecorded()
    {
        using var http = stack.Functions.CreateClient();
        await stack.RegisterThingAsync("witness-e2e");
        using var ghost = await TestMqtt.ConnectAsync("ghost-e2e", stack.Broker.MqttPort, stack.Pki.Device("ghost-e2e"), stack.Pki.Ca);
        using var witness = await TestMqtt.ConnectAsync("witness-e2e", stack.Broker.MqttPort, stack.Pki.Device("witness-e2e"), stack.Pki.Ca);

        // The witness connected after the ghost: once its connect is recorded, the ghost's has been processed too.
        Assert.True(await Eventually.TrueAsync(async () => (await ConnectivityAsync(http, "witness-e2e"))?.GetProperty("connected").GetBoolean() == true, TimeSpan.FromSeconds(15)));
        Assert.Null(await ConnectivityAsync(http, "ghost-e2e"));

        await ghost.DisconnectAsync();
        await witness.DisconnectAsync();
        Assert.True(await Eventually.TrueAsync(async () => (await ConnectivityAsync(http, "witness-e2e"))?.GetProperty("connected").GetBoolean() == false, TimeSpan.FromSeconds(15)));
        Assert.Null(await ConnectivityAsync(http, "ghost-e2e"));
    }
}
