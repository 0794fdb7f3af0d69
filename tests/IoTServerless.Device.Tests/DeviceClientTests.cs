using System.Net;
using System.Security.Authentication;
using System.Text;
using IoTServerless.Core.Security;

namespace IoTServerless.Device.Tests;

public sealed class DeviceClientTests : IDisposable
{
    static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task ConnectAsync_valid_client_certificate_publishes_and_receives_own_subscription()
    {
        await using var broker = new TestBroker(_pki.ServerCertificate, _pki.Ca);
        await broker.StartAsync();
        await using var client = new DeviceClient(_pki.DeviceOptions(broker.Port));
        var received = new TaskCompletionSource<(string Topic, string Payload)>(TaskCreationOptions.RunContinuationsAsynchronously);

        await client.ConnectAsync(CancellationToken.None);
        await client.SubscribeAsync("farm/sensor/+/data", QualityOfService.AtLeastOnce, (topic, payload) =>
        {
            received.TrySetResult((topic, Encoding.UTF8.GetString(payload.Span)));
            return Task.CompletedTask;
        }, CancellationToken.None);
        await client.PublishAsync("farm/sensor/device-001/data", "{\"humidity\":41.7}", QualityOfService.AtLeastOnce, retain: false, CancellationToken.None);

        var (topic, payload) = await received.Task.WaitAsync(Wait);
        Assert.Equal("farm/sensor/device-001/data", topic);
        Assert.Equal("{\"humidity\":41.7}", payload);
        Assert.True(client.IsConnected);
        Assert.Equal(1, client.Connections);
        Assert.Equal(1, client.MessagesPublished);
        Assert.Equal(1, client.MessagesReceived);
        Assert.Equal(["device-001"], broker.ConnectedClientIds);
        Assert.Contains("CN=device-001", broker.ClientCertificateSubjects);
    }

    [Fact]
    public async Task ConnectAsync_server_certificate_from_another_CA_is_refused()
    {
        using var rogueCa = CertificateFactory.CreateCertificateAuthority("Rogue CA");
        using var rogueServer = TestPki.IssueServerCertificate(rogueCa, ["localhost"], [IPAddress.Loopback]);
        await using var broker = new TestBroker(rogueServer, _pki.Ca);
        await broker.StartAsync();
        await using var client = new DeviceClient(_pki.DeviceOptions(broker.Port));
        Exception? failure = null;
        client.ConnectFailed += (_, e) => failure = e.Exception;

        var thrown = await Assert.ThrowsAnyAsync<Exception>(() => client.ConnectAsync(CancellationToken.None));

        Assert.Contains(Chain(thrown), e => e is AuthenticationException);
        Assert.Same(thrown, failure);
        Assert.False(client.IsConnected);
        Assert.Equal(0, client.Connections);
        Assert.Equal(1, client.ConnectFailures);
        Assert.Empty(broker.ConnectedClientIds);
    }

    [Fact]
    public async Task ConnectAsync_server_certificate_for_another_host_is_refused()
    {
        using var otherHost = TestPki.IssueServerCertificate(_pki.Ca, ["broker.example.com"], []);
        await using var broker = new TestBroker(otherHost, _pki.Ca);
        await broker.StartAsync();
        await using var client = new DeviceClient(_pki.DeviceOptions(broker.Port));

        var thrown = await Assert.ThrowsAnyAsync<Exception>(() => client.ConnectAsync(CancellationToken.None));

        Assert.Contains(Chain(thrown), e => e is AuthenticationException);
        Assert.False(client.IsConnected);
        Assert.Empty(broker.ConnectedClientIds);
    }

    [Fact]
    public async Task ConnectAsync_after_server_restart_reconnects_and_resubscribes()
    {
        await using var broker = new TestBroker(_pki.ServerCertificate, _pki.Ca);
        await broker.StartAsync();
        await using var client = new DeviceClient(_pki.DeviceOptions(broker.Port));
        var disconnected = new TaskCompletionSource<DeviceDisconnectedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        var reconnected = new TaskCompletionSource<DeviceConnectedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.Disconnected += (_, e) => disconnected.TrySetResult(e);
        client.Connected += (_, e) =>
        {
            if (e.IsReconnect)
            {
                reconnected.TrySetResult(e);
            }
        };
        await client.ConnectAsync(CancellationToken.None);
        await client.SubscribeAsync("farm/pump/device-001/cmd", QualityOfService.AtLeastOnce, (_, payload) =>
        {
            received.TrySetResult(Encoding.UTF8.GetString(payload.Span));
            return Task.CompletedTask;
        }, CancellationToken.None);

        await broker.StopAsync();
        var lost = await disconnected.Task.WaitAsync(Wait);
        Assert.True(lost.WillReconnect);
        Assert.False(client.IsConnected);
        await Assert.ThrowsAnyAsync<Exception>(() => client.PublishAsync("farm/x", "lost", QualityOfService.AtLeastOnce, false, CancellationToken.None));
        Assert.Equal(1, client.PublishFailures);

        await broker.StartAsync(); // a new server process: no session, no subscriptions
        await reconnected.Task.WaitAsync(Wait);
        Assert.True(client.IsConnected);
        await client.PublishAsync("farm/pump/device-001/cmd", "{\"command\":\"ON\"}", QualityOfService.AtLeastOnce, false, CancellationToken.None);

        Assert.Equal("{\"command\":\"ON\"}", await received.Task.WaitAsync(Wait));
        Assert.Equal(2, client.Connections);
        Assert.Equal(1, client.Disconnections);
        Assert.Equal(["device-001", "device-001"], broker.ConnectedClientIds);
    }

    [Fact]
    public async Task SubscribeAsync_handler_throws_client_keeps_delivering()
    {
        await using var broker = new TestBroker(_pki.ServerCertificate, _pki.Ca);
        await broker.StartAsync();
        await using var client = new DeviceClient(_pki.DeviceOptions(broker.Port));
        var failures = new List<DeviceHandlerFailedEventArgs>();
        client.HandlerFailed += (_, e) => failures.Add(e);
        var good = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await client.ConnectAsync(CancellationToken.None);
        await client.SubscribeAsync("cmd/#", QualityOfService.AtLeastOnce, (topic, payload) =>
        {
            var text = Encoding.UTF8.GetString(payload.Span);
            if (text == "bad")
            {
                throw new FormatException("bad payload");
            }
            good.TrySetResult(text);
            return Task.CompletedTask;
        }, CancellationToken.None);

        await client.PublishAsync("cmd/a", "bad", QualityOfService.AtLeastOnce, false, CancellationToken.None);
        await client.PublishAsync("cmd/b", "good", QualityOfService.AtLeastOnce, false, CancellationToken.None);

        Assert.Equal("good", await good.Task.WaitAsync(Wait));
        Assert.True(client.IsConnected);
        Assert.Equal(1, client.HandlerFailures);
        var failure = Assert.Single(failures);
        Assert.Equal("cmd/a", failure.Topic);
        Assert.IsType<FormatException>(failure.Exception);
    }

    [Fact]
    public async Task PublishAsync_not_connected_throws_and_counts_failure()
    {
        await using var client = new DeviceClient(_pki.DeviceOptions(port: 1));

        await Assert.ThrowsAnyAsync<Exception>(() => client.PublishAsync("t", "x", QualityOfService.AtMostOnce, false, CancellationToken.None));

        Assert.Equal(1, client.PublishFailures);
        Assert.Equal(0, client.MessagesPublished);
    }

    [Fact]
    public async Task ConnectWithRetryAsync_broker_starts_late_connects_with_pending_subscription()
    {
        await using var broker = new TestBroker(_pki.ServerCertificate, _pki.Ca);
        await using var client = new DeviceClient(_pki.DeviceOptions(broker.Port));
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await client.SubscribeAsync("late/topic", QualityOfService.AtLeastOnce, (topic, _) =>
        {
            received.TrySetResult(topic);
            return Task.CompletedTask;
        }, CancellationToken.None);

        var connecting = client.ConnectWithRetryAsync(CancellationToken.None);
        await Task.Delay(300);
        Assert.False(connecting.IsCompleted);
        await broker.StartAsync();
        await connecting.WaitAsync(Wait);
        await client.PublishAsync("late/topic", "x", QualityOfService.AtLeastOnce, false, CancellationToken.None);

        Assert.Equal("late/topic", await received.Task.WaitAsync(Wait));
        Assert.True(client.ConnectFailures >= 1);
    }

    static IEnumerable<Exception> Chain(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            yield return e;
        }
    }
}
