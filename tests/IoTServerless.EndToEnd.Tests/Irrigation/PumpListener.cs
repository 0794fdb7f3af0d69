using System.Threading.Channels;
using IoTServerless.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTServerless.EndToEnd.Tests.Irrigation;

/// <summary>A pump's MQTT connection over TLS that records the commands arriving on <c>farmA/pump/{pump}/cmd</c>.</summary>
internal sealed class PumpListener : IAsyncDisposable
{
    readonly IMqttClient _client;
    readonly Channel<string> _commands = Channel.CreateUnbounded<string>();

    PumpListener(IMqttClient client)
    {
        _client = client;
        _client.ApplicationMessageReceivedAsync += e =>
        {
            _commands.Writer.TryWrite(e.ApplicationMessage.ConvertPayloadToString());
            return Task.CompletedTask;
        };
    }

    public static async Task<PumpListener> ConnectAsync(LocalStack stack, string pump)
    {
        var client = await TestMqtt.ConnectAsync(pump, stack.Broker.MqttPort, stack.Pki.Device(pump), stack.Pki.Ca);
        await client.SubscribeAsync($"farmA/pump/{pump}/cmd", MqttQualityOfServiceLevel.AtLeastOnce);
        return new PumpListener(client);
    }

    public async Task<string> NextCommandAsync(TimeSpan? timeout = null)
        => await _commands.Reader.ReadAsync().AsTask().WaitAsync(timeout ?? TimeSpan.FromSeconds(15));

    /// <summary>The commands that arrive within <paramref name="wait"/>.</summary>
    public async Task<List<string>> CommandsWithinAsync(TimeSpan wait)
    {
        await Task.Delay(wait);
        var received = new List<string>();
        while (_commands.Reader.TryRead(out var command))
        {
            received.Add(command);
        }
        return received;
    }

    public async ValueTask DisposeAsync()
    {
        await _client.DisconnectAsync();
        _client.Dispose();
    }
}
