using IoTServerless.Testing;

namespace IoTServerless.Broker.Tests;

/// <summary>
/// A fresh PKI and a real broker on loopback per test class (as MQTTnet's own tests run a real
/// server); subclasses add settings and their own parts.
/// </summary>
public abstract class BrokerTestBase : IAsyncLifetime
{
    protected TestPki Pki { get; } = new();

    protected TestBroker Broker { get; private set; } = null!;

    /// <summary>Broker settings besides the test defaults.</summary>
    protected virtual Task<IDictionary<string, string?>?> SettingsAsync() => Task.FromResult<IDictionary<string, string?>?>(null);

    public virtual async Task InitializeAsync() => Broker = await TestBroker.StartAsync(Pki, await SettingsAsync());

    /// <summary>Polls <paramref name="condition"/> until it holds; fails the test when <paramref name="timeout"/> passes first.</summary>
    protected static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold in time");
            await Task.Delay(50);
        }
    }

    public virtual async Task DisposeAsync()
    {
        await Broker.DisposeAsync();
        Pki.Dispose();
    }
}
