using System.Text;
using System.Text.Json;
using Azure.Data.Tables;
using IoTServerless.Core.Events;
using IoTServerless.Core.Registry;
using IoTServerless.Core.Storage;
using IoTServerless.Core.Tests.Storage;
using IoTServerless.Core.Topics;
using IoTServerless.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace IoTServerless.Core.Tests.Registry;

/// <summary>The presence handler writing to real Table storage (Azurite).</summary>
[Collection(AzuriteCollection.Name)]
public sealed class PresenceHandlerTests(AzuriteFixture azurite)
{
    readonly ThingStore _store = new(TestTables.Provider(azurite));

    PresenceHandler Handler() => new(_store, NullLogger<PresenceHandler>.Instance);

    static string NewThing() => "thing-" + Guid.NewGuid().ToString("N")[..12];

    async Task<string> RegisteredAsync()
    {
        var thing = NewThing();
        await _store.CreateAsync(thing, new CreateThingRequest(), CancellationToken.None);
        return thing;
    }

    static string Payload(string clientId, string eventType, long timestamp, string? reason = null) => JsonSerializer.Serialize(new
    {
        clientId,
        timestamp,
        eventType,
        sessionIdentifier = "s-1",
        principalIdentifier = new string('a', 64),
        versionNumber = 1,
        disconnectReason = reason,
    });

    static BrokerMessage Message(string clientId, string eventType, string payload, string? publisher = null) => new()
    {
        Id = Guid.NewGuid().ToString(),
        Topic = $"{ReservedTopics.PresencePrefix}{eventType}/{clientId}",
        Payload = Encoding.UTF8.GetBytes(payload),
        Qos = 1,
        ClientId = publisher,
        Timestamp = 1,
    };

    Task HandleAsync(BrokerMessage message) => Handler().HandleAsync([message], CancellationToken.None);

    /// <summary>Whether any entity exists under the key (GetAsync answers null for names that are not thing names).</summary>
    async Task<bool> StoredAsync(string key)
        => (await new TableClient(azurite.ConnectionString, TableNames.Things).GetEntityIfExistsAsync<TableEntity>(key, "")).HasValue;

    [Fact]
    public void TopicFilter_isPresenceFilter()
    {
        var filter = Handler().TopicFilter;
        Assert.True(MqttTopic.Matches(filter, ReservedTopics.PresenceConnected("x")));
        Assert.True(MqttTopic.Matches(filter, ReservedTopics.PresenceDisconnected("x")));
        Assert.False(MqttTopic.Matches(filter, "$aws/events/subscriptions/subscribed/x"));
    }

    [Fact]
    public async Task HandleAsync_brokerPublishedConnect_recordsConnectivity()
    {
        var thing = await RegisteredAsync();

        await HandleAsync(Message(thing, "connected", Payload(thing, "connected", 1234)));

        var stored = await _store.GetAsync(thing, CancellationToken.None);
        Assert.Equal(new ThingConnectivity(true, 1234, null), stored?.Connectivity);
    }

    [Fact]
    public async Task HandleAsync_brokerPublishedDisconnect_recordsReason()
    {
        var thing = await RegisteredAsync();
        await HandleAsync(Message(thing, "connected", Payload(thing, "connected", 1000)));

        await HandleAsync(Message(thing, "disconnected", Payload(thing, "disconnected", 2000, DisconnectReasons.KeepAliveTimeout)));

        var stored = await _store.GetAsync(thing, CancellationToken.None);
        Assert.Equal(new ThingConnectivity(false, 2000, DisconnectReasons.KeepAliveTimeout), stored?.Connectivity);
    }

    [Fact]
    public async Task HandleAsync_unregisteredClient_isIgnoredAndCreatesNoThing()
    {
        var clientId = NewThing();

        await HandleAsync(Message(clientId, "connected", Payload(clientId, "connected", 1000)));
        await HandleAsync(Message(clientId, "disconnected", Payload(clientId, "disconnected", 2000, DisconnectReasons.ClientInitiated)));

        Assert.Null(await _store.GetAsync(clientId, CancellationToken.None));
        Assert.False(await StoredAsync(clientId));
    }

    [Theory]
    [InlineData("pump-1")]
    [InlineData("")]
    public async Task HandleAsync_messagePublishedByAClient_isIgnored(string publisher)
    {
        var thing = await RegisteredAsync();

        await HandleAsync(Message(thing, "connected", Payload(thing, "connected", 1000), publisher));

        Assert.Equal(ThingConnectivity.Unknown, (await _store.GetAsync(thing, CancellationToken.None))?.Connectivity);
    }

    [Fact]
    public async Task HandleAsync_forgedDisconnectFromAClient_doesNotChangeState()
    {
        var thing = await RegisteredAsync();
        await HandleAsync(Message(thing, "connected", Payload(thing, "connected", 1000)));

        await HandleAsync(Message(thing, "disconnected", Payload(thing, "disconnected", 9000, DisconnectReasons.ClientInitiated), publisher: "attacker"));

        var stored = await _store.GetAsync(thing, CancellationToken.None);
        Assert.Equal(new ThingConnectivity(true, 1000, null), stored?.Connectivity);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{")]
    [InlineData("[]")]
    [InlineData("42")]
    [InlineData("null")]
    [InlineData("")]
    [InlineData("{\"eventType\":\"connected\",\"timestamp\":1}")] // no clientId
    [InlineData("{\"clientId\":\"CLIENT\",\"timestamp\":1}")] // no eventType
    [InlineData("{\"clientId\":\"CLIENT\",\"eventType\":\"connected\",\"timestamp\":\"soon\"}")]
    [InlineData("{\"clientId\":\"CLIENT\",\"eventType\":\"subscribed\",\"timestamp\":1}")]
    [InlineData("{\"clientId\":\"CLIENT\",\"eventType\":\"connect_failed\",\"timestamp\":1}")]
    [InlineData("{\"clientId\":\"CLIENT\",\"eventType\":\"CONNECTED\",\"timestamp\":1}")]
    public async Task HandleAsync_malformedOrOtherPayload_isIgnoredWithoutThrowing(string payload)
    {
        var thing = await RegisteredAsync();

        await HandleAsync(Message(thing, "connected", payload.Replace("CLIENT", thing)));

        Assert.Equal(ThingConnectivity.Unknown, (await _store.GetAsync(thing, CancellationToken.None))?.Connectivity);
    }

    [Theory]
    [InlineData("pump 1")]
    [InlineData("pump.1")]
    [InlineData("pümp")]
    [InlineData("$pump")]
    public async Task HandleAsync_clientIdNotAThingName_isNotRecorded(string prefix)
    {
        // These are all legal Table keys, so a wrongly recorded thing would be found.
        var clientId = prefix + Guid.NewGuid().ToString("N")[..8];

        await HandleAsync(Message("x", "connected", Payload(clientId, "connected", 1000)));

        Assert.False(await StoredAsync(clientId));
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    public async Task HandleAsync_clientIdWithTrailingNewline_isIgnoredWithoutThrowing(string suffix)
    {
        // An MQTT client id may end in a line break; it is not a thing name and must not poison the event.
        var clientId = NewThing() + suffix;

        var ex = await Record.ExceptionAsync(() => HandleAsync(Message("x", "connected", Payload(clientId, "connected", 1000))));

        Assert.Null(ex);
    }

    [Fact]
    public async Task HandleAsync_clientIdLongerThan128_isNotRecorded()
    {
        var clientId = Guid.NewGuid().ToString("N") + new string('a', 129 - 32);

        await HandleAsync(Message("x", "connected", Payload(clientId, "connected", 1000)));

        Assert.False(await StoredAsync(clientId));
    }
}
