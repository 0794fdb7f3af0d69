using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;
using FarmSimulator.Simulation;

namespace FarmSimulator.Tests;

/// <summary>A pump keeping its on/off state in its classic shadow, over mutual TLS, against an in-memory shadow service.</summary>
public sealed class PumpDeviceShadowTests : IAsyncLifetime
{
    const string Thing = "pump-001";
    const string Farm = "farmT";
    static readonly TimeSpan Wait = TimeSpan.FromSeconds(8);

    readonly ConcurrentQueue<string> _log = new();
    readonly CancellationTokenSource _stop = new();
    ShadowTestBroker _broker = null!;
    FakeShadowService _service = null!;
    IoTServerless.Device.DeviceClient? _client;
    PumpDevice? _pump;
    Task _run = Task.CompletedTask;

    public async Task InitializeAsync()
    {
        _broker = await ShadowTestBroker.StartAsync(Thing, "shadow-service");
        _service = await FakeShadowService.StartAsync(_broker);
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _run;
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }
        _pump?.Dispose();
        await _service.DisposeAsync();
        await _broker.DisposeAsync();
        _stop.Dispose();
    }

    [Fact]
    public async Task RunAsync_after_connecting_gets_the_shadow_and_reports_OFF()
    {
        var pump = StartPump();

        await WaitUntilAsync(() => Reported()?["pump"]?.GetValue<string>() == "OFF");

        var served = _service.Served();
        Assert.Equal($"$aws/things/{Thing}/shadow/get", served[0].Topic); // 404: no shadow yet
        Assert.Equal($"$aws/things/{Thing}/shadow/update", served[1].Topic);
        Assert.Equal("""{"pump":"OFF"}""", Reported()!.ToJsonString());
        Assert.Null(_service.Get(Thing)!.Value.Desired);
        Assert.Equal(1, pump.ShadowUpdates);
        Assert.Equal(0, pump.ShadowFailures);
    }

    [Fact]
    public async Task Delta_desired_pump_ON_turns_the_pump_on_and_reports_ON_so_the_delta_disappears()
    {
        var pump = StartPump();
        await WaitUntilAsync(() => Reported() is not null);

        await _service.SetDesiredAsync(Thing, Json("""{"pump":"ON","runSeconds":120}"""));

        await WaitUntilAsync(() => Reported()?["pump"]?.GetValue<string>() == "ON");
        Assert.True(pump.State.IsOn(DateTimeOffset.UtcNow));
        var shadow = _service.Get(Thing)!.Value;
        Assert.Null(shadow.Delta);
        Assert.Null(shadow.Desired); // the request is withdrawn once fulfilled
        var onUntil = shadow.Reported!["onUntil"]!.GetValue<long>();
        Assert.InRange(onUntil - DateTimeOffset.UtcNow.ToUnixTimeSeconds(), 115, 121);
        Assert.Contains($"{Thing} ON for 120 s (delta)", _log);
        Assert.Equal(1, pump.ShadowRequestsApplied);
        // The state topic follows as for a command.
        await WaitUntilAsync(() => States().Any(s => s.StartsWith("""{"state":"ON""", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Delta_desired_pump_OFF_stops_a_running_pump()
    {
        var pump = StartPump();
        await WaitUntilAsync(() => Reported() is not null);
        await pump.OnCommandAsync(pump.CommandTopic, Encoding.UTF8.GetBytes("""{"command":"ON","duration":600}"""));
        await WaitUntilAsync(() => Reported()?["pump"]?.GetValue<string>() == "ON");

        await _service.SetDesiredAsync(Thing, Json("""{"pump":"OFF"}"""));

        await WaitUntilAsync(() => Reported()?["pump"]?.GetValue<string>() == "OFF");
        Assert.False(pump.State.IsOn(DateTimeOffset.UtcNow));
        Assert.False(Reported()!.ContainsKey("onUntil"));
        Assert.Null(_service.Get(Thing)!.Value.Delta);
        Assert.Contains($"{Thing} OFF (delta)", _log);
    }

    [Fact]
    public async Task Reconnect_get_with_delta_applies_the_request_missed_while_offline()
    {
        var pump = StartPump();
        await WaitUntilAsync(() => Reported() is not null);
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        pump.Client.Connected += (_, e) =>
        {
            if (e.IsReconnect)
            {
                connected.TrySetResult();
            }
        };

        // Desired changes and the delta is lost (written without publishing); then the pump reconnects.
        _service.SetDesiredSilently(Thing, Json("""{"pump":"ON","runSeconds":60}"""));
        Assert.Equal(Json("""{"pump":"ON","runSeconds":60}""").ToJsonString(), _service.Get(Thing)!.Value.Delta!.ToJsonString());
        await _broker.KickAsync(Thing);
        await connected.Task.WaitAsync(Wait);

        await WaitUntilAsync(() => Reported()?["pump"]?.GetValue<string>() == "ON");
        Assert.True(pump.State.IsOn(DateTimeOffset.UtcNow));
        Assert.Contains($"{Thing} ON for 60 s (shadow)", _log);
        Assert.Null(_service.Get(Thing)!.Value.Delta);
        Assert.Null(_service.Get(Thing)!.Value.Desired);
        Assert.Equal(2, _service.Served().Count(r => r.Topic.EndsWith("/get", StringComparison.Ordinal)));
        Assert.True(pump.Client.Connections >= 2);
    }

    [Fact]
    public async Task Delta_with_only_runSeconds_reads_the_whole_request_and_restarts_the_run()
    {
        var pump = StartPump();
        await WaitUntilAsync(() => Reported() is not null);
        await _service.SetDesiredAsync(Thing, Json("""{"pump":"ON","runSeconds":60}"""));
        await WaitUntilAsync(() => Reported()?["pump"]?.GetValue<string>() == "ON");

        // desired.pump equals reported.pump: the delta carries runSeconds only.
        await _service.SetDesiredAsync(Thing, Json("""{"pump":"ON","runSeconds":300}"""));

        await WaitUntilAsync(() => pump.ShadowRequestsApplied == 2 && _service.Get(Thing)!.Value.Desired is null);
        Assert.Contains($"{Thing} ON for 300 s (shadow)", _log);
        Assert.InRange(pump.State.OnUntil(DateTimeOffset.UtcNow)!.Value - DateTimeOffset.UtcNow, TimeSpan.FromSeconds(290), TimeSpan.FromSeconds(301));
        await WaitUntilAsync(() => Reported()?["onUntil"]?.GetValue<long>() > DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 200);
    }

    [Fact]
    public async Task Command_overrides_a_stale_desired_request_which_never_comes_back()
    {
        var pump = StartPump();
        await WaitUntilAsync(() => Reported() is not null);
        _service.SetDesiredSilently(Thing, Json("""{"pump":"OFF"}""")); // equal to reported: no delta

        await pump.OnCommandAsync(pump.CommandTopic, Encoding.UTF8.GetBytes("""{"command":"ON","duration":600}"""));

        await WaitUntilAsync(() => Reported()?["pump"]?.GetValue<string>() == "ON");
        Assert.Null(_service.Get(Thing)!.Value.Desired);
        Assert.Null(_service.Get(Thing)!.Value.Delta);
        await Task.Delay(500);
        Assert.True(pump.State.IsOn(DateTimeOffset.UtcNow));
        Assert.Equal(0, pump.ShadowRequestsApplied);
    }

    [Fact]
    public async Task Run_end_reports_OFF_and_the_fulfilled_request_does_not_restart_the_pump()
    {
        var pump = StartPump();
        await WaitUntilAsync(() => Reported() is not null);

        await _service.SetDesiredAsync(Thing, Json("""{"pump":"ON","runSeconds":1}"""));
        await WaitUntilAsync(() => pump.ShadowRequestsApplied == 1);
        await WaitUntilAsync(() => _log.Contains($"{Thing} OFF (run ended)"));
        await WaitUntilAsync(() => Reported()?["pump"]?.GetValue<string>() == "OFF");

        await Task.Delay(1500);
        Assert.False(pump.State.IsOn(DateTimeOffset.UtcNow));
        Assert.Equal(1, pump.ShadowRequestsApplied);
        Assert.Null(_service.Get(Thing)!.Value.Delta);
    }

    [Fact]
    public async Task Delta_older_than_one_already_seen_is_ignored()
    {
        var pump = StartPump();
        await WaitUntilAsync(() => Reported() is not null);
        await _service.SetDesiredAsync(Thing, Json("""{"pump":"ON","runSeconds":600}"""));
        await WaitUntilAsync(() => Reported()?["pump"]?.GetValue<string>() == "ON");

        await _service.PublishRawAsync($"$aws/things/{Thing}/shadow/update/delta", $$"""{"version":1,"timestamp":{{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}},"state":{"pump":"OFF"} }""");
        await WaitUntilAsync(() => pump.Shadow.DeltasReceived == 2);

        await Task.Delay(300);
        Assert.True(pump.State.IsOn(DateTimeOffset.UtcNow));
        Assert.Equal(1, pump.ShadowRequestsApplied);
    }

    [Fact]
    public async Task Invalid_desired_request_is_ignored_and_withdrawn()
    {
        var pump = StartPump();
        await WaitUntilAsync(() => Reported() is not null);

        await _service.SetDesiredAsync(Thing, Json("""{"pump":"SIDEWAYS"}"""));

        await WaitUntilAsync(() => pump.ShadowRequestsIgnored == 1 && _service.Get(Thing)!.Value.Desired is null);
        Assert.False(pump.State.IsOn(DateTimeOffset.UtcNow));
        Assert.Null(_service.Get(Thing)!.Value.Delta);
        Assert.Contains(_log, l => l.StartsWith($"{Thing} ignored an invalid shadow request (delta)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Shadow_service_down_pump_still_obeys_commands_and_logs_the_failure_once()
    {
        _service.Responding = false;
        var pump = StartPump(shadowTimeout: TimeSpan.FromSeconds(1));
        await WaitUntilAsync(() => pump.ShadowFailures >= 1);

        await pump.OnCommandAsync(pump.CommandTopic, Encoding.UTF8.GetBytes("""{"command":"ON","duration":60}"""));

        await WaitUntilAsync(() => States().Any(s => s.StartsWith("""{"state":"ON""", StringComparison.Ordinal)));
        Assert.True(pump.State.IsOn(DateTimeOffset.UtcNow));
        var failures = _log.Where(l => l.Contains($"{Thing} shadow ", StringComparison.Ordinal)).ToList();
        Assert.Equal([$"{Thing} shadow get timed out (retrying every 15 s)"], failures);
        Assert.Equal(0, pump.ShadowUpdates);
    }

    [Fact]
    public async Task Shadow_subscriptions_refused_pump_leaves_the_shadow_alone_and_obeys_commands()
    {
        _broker.RefuseSubscription = filter => filter.StartsWith("$aws/things/", StringComparison.Ordinal);
        var pump = StartPump();
        await WaitUntilAsync(() => _log.Any(l => l.Contains("may not use its shadow", StringComparison.Ordinal)));

        await pump.OnCommandAsync(pump.CommandTopic, Encoding.UTF8.GetBytes("""{"command":"ON","duration":60}"""));
        await WaitUntilAsync(() => States().Any(s => s.StartsWith("""{"state":"ON""", StringComparison.Ordinal)));

        await Task.Delay(1200);
        Assert.DoesNotContain(_broker.Published, m => m.ClientId == Thing && m.Topic.StartsWith("$aws/", StringComparison.Ordinal));
        Assert.Empty(_service.Served());
        Assert.True(pump.Client.IsConnected);
    }

    PumpDevice StartPump(TimeSpan? shadowTimeout = null)
    {
        _client = _broker.CreateClient(Thing);
        _pump = new PumpDevice(Thing, Farm, _client, TimeProvider.System, _log.Enqueue, shadowTimeout ?? TimeSpan.FromSeconds(3));
        _run = _pump.RunAsync(_stop.Token);
        return _pump;
    }

    JsonObject? Reported() => _service.Get(Thing)?.Reported;

    List<string> States() => _broker.Published.Where(m => m.Topic == $"{Farm}/pump/{Thing}/state").Select(m => m.Payload).ToList();

    static JsonObject Json(string json) => JsonNode.Parse(json)!.AsObject();

    static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for the condition");
            await Task.Delay(25);
        }
    }
}
