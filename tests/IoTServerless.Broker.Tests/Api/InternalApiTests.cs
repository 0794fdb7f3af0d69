using System.Globalization;
using System.Net;
using System.Text;
using IoTServerless.Broker.Sinks;
using IoTServerless.Core.Topics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using System.Text.Json;
using IoTServerless.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTServerless.Broker.Tests.Api;

/// <summary>The broker's internal API over real HTTP, with real MQTT clients on the other side.</summary>
public sealed class InternalApiTests : BrokerTestBase
{
    HttpClient _http = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _http = new HttpClient { BaseAddress = Broker.ApiUrl };
        _http.DefaultRequestHeaders.Add("x-broker-key", TestBroker.ApiKey);
    }

    public override async Task DisposeAsync()
    {
        _http.Dispose();
        await base.DisposeAsync();
    }

    [Fact]
    public async Task Publish_withoutTheKey_is401()
    {
        using var anonymous = new HttpClient { BaseAddress = Broker.ApiUrl };
        using var response = await anonymous.PostAsync("internal/v1/publish?topic=a/b", new ByteArrayContent([1]));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        using var wrong = new HttpClient { BaseAddress = Broker.ApiUrl };
        wrong.DefaultRequestHeaders.Add("x-broker-key", "not-the-key");
        using var response2 = await wrong.PostAsync("internal/v1/publish?topic=a/b", new ByteArrayContent([1]));
        Assert.Equal(HttpStatusCode.Unauthorized, response2.StatusCode);
    }

    [Fact]
    public async Task Publish_reachesASubscribedDevice()
    {
        using var pump = await TestMqtt.ConnectAsync("pump-001", Broker.MqttPort, Pki.Device("pump-001"), Pki.Ca);
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        pump.ApplicationMessageReceivedAsync += e =>
        {
            received.TrySetResult(e.ApplicationMessage.ConvertPayloadToString());
            return Task.CompletedTask;
        };
        await pump.SubscribeAsync("farmA/pump/pump-001/cmd", MqttQualityOfServiceLevel.AtLeastOnce);

        using var response = await _http.PostAsync("internal/v1/publish?topic=farmA%2Fpump%2Fpump-001%2Fcmd&qos=1", new StringContent("{\"command\":\"ON\"}"));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("{\"command\":\"ON\"}", await received.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Publish_toAnMqtt311Device_isDispatchedFromTheIndex_andWithAnMqtt5DeviceSubscribedToo_byMqttnet()
    {
        var traffic = Broker.Services.GetRequiredService<BrokerTraffic>();
        using var v3 = await TestMqtt.ConnectAsync("pump-v3", Broker.MqttPort, Pki.Device("pump-v3"), Pki.Ca);
        var v3Received = new List<(string Payload, MqttQualityOfServiceLevel Qos)>();
        v3.ApplicationMessageReceivedAsync += e =>
        {
            lock (v3Received)
            {
                v3Received.Add((e.ApplicationMessage.ConvertPayloadToString(), e.ApplicationMessage.QualityOfServiceLevel));
            }
            return Task.CompletedTask;
        };
        await v3.SubscribeAsync("farmA/cmd/#", MqttQualityOfServiceLevel.AtLeastOnce);
        var before = traffic.PlatformDispatchedDirect;

        using (var response = await _http.PostAsync("internal/v1/publish?topic=farmA%2Fcmd%2Fone&qos=1", new StringContent("one")))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }
        Assert.True(await Eventually.TrueAsync(() => { lock (v3Received) { return Task.FromResult(v3Received.Count == 1); } }, TimeSpan.FromSeconds(10)));
        Assert.Equal(1, traffic.PlatformDispatchedDirect - before);

        var v5 = new MqttClientFactory().CreateMqttClient();
        using var _ = v5;
        await v5.ConnectAsync(TestMqtt.Options("pump-v5", Broker.MqttPort, Pki.Device("pump-v5"), Pki.Ca, MQTTnet.Formatter.MqttProtocolVersion.V500));
        var v5Received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        v5.ApplicationMessageReceivedAsync += e =>
        {
            v5Received.TrySetResult(e.ApplicationMessage.ConvertPayloadToString());
            return Task.CompletedTask;
        };
        await v5.SubscribeAsync("farmA/cmd/#", MqttQualityOfServiceLevel.AtLeastOnce);
        before = traffic.PlatformDispatchedDirect;

        using (var response = await _http.PostAsync("internal/v1/publish?topic=farmA%2Fcmd%2Ftwo&qos=1", new StringContent("two")))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        Assert.Equal("two", await v5Received.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(await Eventually.TrueAsync(() => { lock (v3Received) { return Task.FromResult(v3Received.Count == 2); } }, TimeSpan.FromSeconds(10)));
        Assert.Equal([("one", MqttQualityOfServiceLevel.AtLeastOnce), ("two", MqttQualityOfServiceLevel.AtLeastOnce)], v3Received);
        Assert.Equal(0, traffic.PlatformDispatchedDirect - before);
    }

    [Theory]
    [InlineData("a/%2B/b")]
    [InlineData("a/%23")]
    [InlineData("")]
    public async Task Publish_toAnInvalidTopic_is400ProblemDetails(string topic)
    {
        using var response = await _http.PostAsync($"internal/v1/publish?topic={topic}", new ByteArrayContent([1]));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task PublishBatch_throughTheFunctionsClient_reachesSubscribersInOrder()
    {
        using var pump = await TestMqtt.ConnectAsync("pump-002", Broker.MqttPort, Pki.Device("pump-002"), Pki.Ca);
        var received = new System.Collections.Concurrent.ConcurrentQueue<string>();
        pump.ApplicationMessageReceivedAsync += e =>
        {
            received.Enqueue($"{e.ApplicationMessage.Topic}={e.ApplicationMessage.ConvertPayloadToString()}");
            return Task.CompletedTask;
        };
        await pump.SubscribeAsync("batch/#", MqttQualityOfServiceLevel.AtLeastOnce);
        var client = new HttpBrokerClient(_http, Options.Create(new BrokerApiOptions { BaseUrl = Broker.ApiUrl, Key = TestBroker.ApiKey }));
        var messages = Enumerable.Range(0, 120).Select(i => new OutboundMessage($"batch/{i % 3}", Encoding.UTF8.GetBytes(i.ToString(CultureInfo.InvariantCulture)), Qos: 1)).ToList();

        await client.PublishBatchAsync(messages, CancellationToken.None);

        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(received.Count >= 120), TimeSpan.FromSeconds(10)));
        Assert.Equal(messages.Select(m => $"{m.Topic}={Encoding.UTF8.GetString(m.Payload.Span)}"), received);
    }

    [Fact]
    public async Task PublishBatch_withOneInvalidTopic_is400AndPublishesNothing()
    {
        using var pump = await TestMqtt.ConnectAsync("pump-003", Broker.MqttPort, Pki.Device("pump-003"), Pki.Ca);
        var received = new System.Collections.Concurrent.ConcurrentQueue<string>();
        pump.ApplicationMessageReceivedAsync += e =>
        {
            received.Enqueue(e.ApplicationMessage.Topic);
            return Task.CompletedTask;
        };
        await pump.SubscribeAsync("batch2/#", MqttQualityOfServiceLevel.AtLeastOnce);
        var client = new HttpBrokerClient(_http, Options.Create(new BrokerApiOptions { BaseUrl = Broker.ApiUrl, Key = TestBroker.ApiKey }));

        var error = await Assert.ThrowsAsync<BrokerApiException>(() => client.PublishBatchAsync(
            [new OutboundMessage("batch2/ok", new byte[] { 1 }), new OutboundMessage("batch2/+", new byte[] { 2 })], CancellationToken.None));

        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        Assert.Contains("messages[1].topic", error.Message, StringComparison.Ordinal);
        // The valid message before it was not published either.
        await client.PublishAsync("batch2/marker", new byte[] { 3 }, 1, false, CancellationToken.None);
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(received.Contains("batch2/marker")), TimeSpan.FromSeconds(10)));
        Assert.Equal(["batch2/marker"], received);
    }

    [Fact]
    public async Task Publish_ofAPayloadOver128KB_is413()
    {
        using var response = await _http.PostAsync("internal/v1/publish?topic=a/b", new ByteArrayContent(new byte[128 * 1024 + 1]));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task Disconnect_dropsTheClientWithApiInitiatedReason_thenIs404()
    {
        var reason = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var watcher = await TestMqtt.ConnectAsync("watcher", Broker.MqttPort, Pki.Device("watcher"), Pki.Ca);
        watcher.ApplicationMessageReceivedAsync += e =>
        {
            reason.TrySetResult(JsonDocument.Parse(e.ApplicationMessage.ConvertPayloadToString()).RootElement.GetProperty("disconnectReason").GetString()!);
            return Task.CompletedTask;
        };
        await watcher.SubscribeAsync("$aws/events/presence/disconnected/pump-002", MqttQualityOfServiceLevel.AtLeastOnce);
        using var pump = await TestMqtt.ConnectAsync("pump-002", Broker.MqttPort, Pki.Device("pump-002"), Pki.Ca);

        using var response = await _http.PostAsync("internal/v1/clients/pump-002/disconnect", null);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("API_INITIATED_DISCONNECT", await reason.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(!pump.IsConnected), TimeSpan.FromSeconds(5)));
        using var again = await _http.PostAsync("internal/v1/clients/pump-002/disconnect", null);
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }

    [Fact]
    public async Task InternalApi_isNotServedOnTheDeviceWebSocketListener()
    {
        using var handler = new HttpClientHandler
        {
            ClientCertificates = { Pki.Device("curious") },
            ServerCertificateCustomValidationCallback = (_, _, _, _) => true,
        };
        using var wss = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{Broker.WebSocketPort}/") };
        wss.DefaultRequestHeaders.Add("x-broker-key", TestBroker.ApiKey);
        using var response = await wss.PostAsync("internal/v1/publish?topic=a/b", new ByteArrayContent([1]));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
