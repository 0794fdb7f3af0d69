using IoTServerless.Testing;
using Microsoft.Extensions.Options;

namespace IoTServerless.Broker.Tests;

public sealed class BrokerOptionsTests
{
    [Theory]
    [InlineData("Broker:Mqtt:KeepAliveCheckIntervalMilliseconds", "0")]
    [InlineData("Broker:Mqtt:MaxRetainedMessages", "-1")]
    [InlineData("Broker:Mqtt:MaxBacklogMessages", "1")]
    [InlineData("Broker:Authorization:ChangePollMilliseconds", "0")]
    public async Task Start_withASectionsValueOutOfRange_failsNamingIt(string key, string value)
    {
        using var pki = new TestPki();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => TestBroker.StartAsync(pki, new Dictionary<string, string?> { [key] = value }));

        Assert.Contains(key[(key.LastIndexOf(':') + 1)..], error.Message, StringComparison.Ordinal);
    }
}
