using Azure.Data.Tables;
using IoTServerless.Core.Events;
using IoTServerless.Core.Registry;
using IoTServerless.Core.Storage;
using Microsoft.Extensions.Options;
using IoTServerless.Core.Tests.Storage;
using IoTServerless.Testing;

namespace IoTServerless.Core.Tests.Registry;

/// <summary>Thing connectivity in real Table storage (Azurite).</summary>
[Collection(AzuriteCollection.Name)]
public sealed class ThingStoreTests(AzuriteFixture azurite)
{
    readonly ThingStore _store = new(TestTables.Provider(azurite));

    static string NewThing() => "thing-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>A new registered thing: presence is recorded for registered things only.</summary>
    async Task<string> RegisteredAsync()
    {
        var thing = NewThing();
        await _store.CreateAsync(thing, new CreateThingRequest(), CancellationToken.None);
        return thing;
    }

    static LifecycleEvent Connected(string thing, long timestamp, long version = 1) => new()
    {
        ClientId = thing,
        EventType = LifecycleEventTypes.Connected,
        Timestamp = timestamp,
        VersionNumber = version,
        SessionIdentifier = $"s-{version}",
        PrincipalIdentifier = new string('a', 64),
        IpAddress = "10.0.0.1",
    };

    static LifecycleEvent Disconnected(string thing, long timestamp, long version = 1, string reason = DisconnectReasons.ConnectionLost) => new()
    {
        ClientId = thing,
        EventType = LifecycleEventTypes.Disconnected,
        Timestamp = timestamp,
        VersionNumber = version,
        SessionIdentifier = $"s-{version}",
        PrincipalIdentifier = new string('a', 64),
        ClientInitiatedDisconnect = reason == DisconnectReasons.ClientInitiated,
        DisconnectReason = reason,
    };

    async Task<bool> ApplyAsync(LifecycleEvent e) => await _store.ApplyLifecycleEventAsync(e, CancellationToken.None) == LifecycleEventOutcome.Applied;

    async Task<ThingConnectivity> ConnectivityAsync(string thing)
    {
        var stored = await _store.GetAsync(thing, CancellationToken.None);
        Assert.NotNull(stored);
        Assert.Equal(thing, stored.ThingName);
        return stored.Connectivity;
    }

    [Fact]
    public async Task GetAsync_unknownThing_returnsNull()
        => Assert.Null(await _store.GetAsync(NewThing(), CancellationToken.None));

    [Fact]
    public async Task ApplyLifecycleEventAsync_firstConnect_recordsConnected()
    {
        var thing = await RegisteredAsync();

        Assert.True(await ApplyAsync(Connected(thing, 1000)));

        Assert.Equal(new ThingConnectivity(true, 1000, null), await ConnectivityAsync(thing));
    }

    [Fact]
    public async Task ApplyLifecycleEventAsync_unregisteredClient_isUnknownThingAndCreatesNothing()
    {
        var thing = NewThing();

        Assert.Equal(LifecycleEventOutcome.UnknownThing, await _store.ApplyLifecycleEventAsync(Connected(thing, 1000), CancellationToken.None));
        Assert.Equal(LifecycleEventOutcome.UnknownThing, await _store.ApplyLifecycleEventAsync(Disconnected(thing, 2000), CancellationToken.None));

        Assert.Null(await _store.GetAsync(thing, CancellationToken.None));
        var direct = new TableClient(azurite.ConnectionString, TableNames.Things);
        Assert.False((await direct.GetEntityIfExistsAsync<TableEntity>(thing, "")).HasValue);
    }

    [Fact]
    public async Task ApplyLifecycleEventAsync_outdatedEvent_isOutdated()
    {
        var thing = await RegisteredAsync();
        Assert.Equal(LifecycleEventOutcome.Applied, await _store.ApplyLifecycleEventAsync(Connected(thing, 2000), CancellationToken.None));

        Assert.Equal(LifecycleEventOutcome.Outdated, await _store.ApplyLifecycleEventAsync(Connected(thing, 1000), CancellationToken.None));
    }

    [Fact]
    public async Task ApplyLifecycleEventAsync_keepsTypeAttributesAndVersion()
    {
        var thing = NewThing();
        await _store.CreateAsync(thing, new CreateThingRequest { Attributes = new Dictionary<string, string> { ["farm"] = "A" } }, CancellationToken.None);

        Assert.True(await ApplyAsync(Connected(thing, 1000)));

        var stored = await _store.GetAsync(thing, CancellationToken.None);
        Assert.Equal("A", stored!.Attributes["farm"]);
        Assert.Equal(1, stored.Version);
    }

    [Fact]
    public async Task ApplyLifecycleEventAsync_firstEventIsDisconnect_recordsReason()
    {
        var thing = await RegisteredAsync();

        Assert.True(await ApplyAsync(Disconnected(thing, 1000, reason: DisconnectReasons.KeepAliveTimeout)));

        Assert.Equal(new ThingConnectivity(false, 1000, DisconnectReasons.KeepAliveTimeout), await ConnectivityAsync(thing));
    }

    [Fact]
    public async Task ApplyLifecycleEventAsync_newerTimestamp_wins()
    {
        var thing = await RegisteredAsync();
        Assert.True(await ApplyAsync(Connected(thing, 1000, version: 5)));

        // Newer wins even with a lower version number (time comes first).
        Assert.True(await ApplyAsync(Disconnected(thing, 2000, version: 1, reason: DisconnectReasons.ClientInitiated)));
        Assert.Equal(new ThingConnectivity(false, 2000, DisconnectReasons.ClientInitiated), await ConnectivityAsync(thing));

        Assert.True(await ApplyAsync(Connected(thing, 3000, version: 2)));
        // A connect clears the previous disconnect reason.
        Assert.Equal(new ThingConnectivity(true, 3000, null), await ConnectivityAsync(thing));
    }

    [Fact]
    public async Task ApplyLifecycleEventAsync_olderTimestamp_isRejected()
    {
        var thing = await RegisteredAsync();
        Assert.True(await ApplyAsync(Connected(thing, 2000, version: 1)));

        // Older, even with a higher version and even though it is a disconnect.
        Assert.False(await ApplyAsync(Disconnected(thing, 1999, version: 9)));

        Assert.Equal(new ThingConnectivity(true, 2000, null), await ConnectivityAsync(thing));
    }

    [Fact]
    public async Task ApplyLifecycleEventAsync_reorderedDelivery_endsInLatestState()
    {
        var thing = await RegisteredAsync();
        // Delivered out of order: disconnect(3000) first, then the older connect(1000) and disconnect(2000).
        Assert.True(await ApplyAsync(Disconnected(thing, 3000, version: 2, reason: DisconnectReasons.DuplicateClientId)));
        Assert.False(await ApplyAsync(Connected(thing, 1000, version: 1)));
        Assert.False(await ApplyAsync(Disconnected(thing, 2000, version: 1)));

        Assert.Equal(new ThingConnectivity(false, 3000, DisconnectReasons.DuplicateClientId), await ConnectivityAsync(thing));
    }

    [Fact]
    public async Task ApplyLifecycleEventAsync_sameTimestampHigherVersion_wins()
    {
        var thing = await RegisteredAsync();
        Assert.True(await ApplyAsync(Disconnected(thing, 5000, version: 1, reason: DisconnectReasons.DuplicateClientId)));

        // The takeover's connect carries the same millisecond but the next connection's version.
        Assert.True(await ApplyAsync(Connected(thing, 5000, version: 2)));

        Assert.Equal(new ThingConnectivity(true, 5000, null), await ConnectivityAsync(thing));
    }

    [Fact]
    public async Task ApplyLifecycleEventAsync_sameTimestampLowerVersion_isRejected()
    {
        var thing = await RegisteredAsync();
        Assert.True(await ApplyAsync(Connected(thing, 5000, version: 2)));

        Assert.False(await ApplyAsync(Disconnected(thing, 5000, version: 1)));

        Assert.Equal(new ThingConnectivity(true, 5000, null), await ConnectivityAsync(thing));
    }

    [Fact]
    public async Task ApplyLifecycleEventAsync_sameTimestampAndVersion_disconnectWinsOverConnect()
    {
        var connectFirst = await RegisteredAsync();
        Assert.True(await ApplyAsync(Connected(connectFirst, 7000, version: 3)));
        Assert.True(await ApplyAsync(Disconnected(connectFirst, 7000, version: 3, reason: DisconnectReasons.AuthError)));
        Assert.Equal(new ThingConnectivity(false, 7000, DisconnectReasons.AuthError), await ConnectivityAsync(connectFirst));

        var disconnectFirst = await RegisteredAsync();
        Assert.True(await ApplyAsync(Disconnected(disconnectFirst, 7000, version: 3, reason: DisconnectReasons.AuthError)));
        Assert.False(await ApplyAsync(Connected(disconnectFirst, 7000, version: 3)));
        Assert.Equal(new ThingConnectivity(false, 7000, DisconnectReasons.AuthError), await ConnectivityAsync(disconnectFirst));
    }

    [Fact]
    public async Task ApplyLifecycleEventAsync_duplicateEvent_isNoOpReturningFalse()
    {
        var connected = await RegisteredAsync();
        Assert.True(await ApplyAsync(Connected(connected, 8000, version: 4)));
        Assert.False(await ApplyAsync(Connected(connected, 8000, version: 4)));
        Assert.Equal(new ThingConnectivity(true, 8000, null), await ConnectivityAsync(connected));

        var disconnected = await RegisteredAsync();
        Assert.True(await ApplyAsync(Disconnected(disconnected, 8000, version: 4, reason: DisconnectReasons.Throttled)));
        // A redelivered duplicate, even with a different reason, changes nothing.
        Assert.False(await ApplyAsync(Disconnected(disconnected, 8000, version: 4, reason: DisconnectReasons.ServerError)));
        Assert.Equal(new ThingConnectivity(false, 8000, DisconnectReasons.Throttled), await ConnectivityAsync(disconnected));
    }

    [Fact]
    public async Task ApplyLifecycleEventAsync_concurrentEvents_endInTheLatest()
    {
        var thing = await RegisteredAsync();
        // 20 events with distinct timestamps, applied all at once in a shuffled order.
        var events = Enumerable.Range(1, 20)
            .Select(i => i % 2 == 0 ? Connected(thing, 10_000 + i * 10, version: i) : Disconnected(thing, 10_000 + i * 10, version: i, reason: $"R{i}"))
            .OrderBy(_ => Random.Shared.Next())
            .ToArray();
        var latest = events.MaxBy(e => e.Timestamp)!;

        var applied = await Task.WhenAll(events.Select(e => Task.Run(() => ApplyAsync(e))));

        Assert.Equal(new ThingConnectivity(latest.EventType == LifecycleEventTypes.Connected, latest.Timestamp, latest.DisconnectReason), await ConnectivityAsync(thing));
        // The latest event is always applied (nothing can be newer than it).
        Assert.True(applied[Array.IndexOf(events, latest)]);
        Assert.Contains(applied, a => a);
    }

    [Fact]
    public async Task ApplyLifecycleEventAsync_concurrentEventsLatestIsDisconnect_endDisconnected()
    {
        var thing = await RegisteredAsync();
        var events = Enumerable.Range(1, 20)
            .Select(i => i == 13 ? Disconnected(thing, 99_999, version: i, reason: DisconnectReasons.ApiInitiated) : Connected(thing, 50_000 + i, version: i))
            .ToArray();

        await Task.WhenAll(events.Select(e => Task.Run(() => ApplyAsync(e))));

        Assert.Equal(new ThingConnectivity(false, 99_999, DisconnectReasons.ApiInitiated), await ConnectivityAsync(thing));
    }

    /// <summary>
    /// A store whose every entity write is preceded by <paramref name="rival"/>'s direct write to the
    /// same table: a deterministic stand-in for a rival instance winning the race at the worst moment.
    /// </summary>
    async Task<(ThingStore Store, InterceptingTableProxy Proxy)> RacedStoreAsync(Func<TableClient, Task> rival)
    {
        var proxy = await InterceptingTableProxy.StartAsync(azurite.TablePort);
        var direct = new TableClient(azurite.ConnectionString, TableNames.Things);
        proxy.BeforeWrite = _ => rival(direct);
        var provider = new TableClientProvider(Options.Create(new TableStorageOptions { ConnectionString = proxy.ConnectionString(azurite.ConnectionString, azurite.TablePort) }));
        return (new ThingStore(provider), proxy);
    }

    static TableEntity StoredConnectivity(string thing, bool connected, long timestamp, long version) => new(thing, "")
    {
        ["Registered"] = true,
        ["ThingId"] = "rival",
        ["Version"] = 1L,
        ["Connected"] = connected,
        ["ConnectivityTimestamp"] = timestamp,
        ["ConnectivityVersion"] = version,
    };

    [Fact]
    public async Task ApplyLifecycleEventAsync_rivalWritesNewerBetweenReadAndWrite_reReadsAndRejects()
    {
        var thing = await RegisteredAsync();
        Assert.True(await ApplyAsync(Connected(thing, 1000, version: 1)));
        var (raced, proxy) = await RacedStoreAsync(async table =>
            await table.UpsertEntityAsync(StoredConnectivity(thing, connected: true, 3000, version: 3), TableUpdateMode.Replace));
        await using (proxy)
        {
            // Newer than what it read (1000), older than what the rival wrote meanwhile (3000).
            Assert.Equal(LifecycleEventOutcome.Outdated, await raced.ApplyLifecycleEventAsync(Disconnected(thing, 2000, version: 2), CancellationToken.None));
        }

        Assert.Equal(new ThingConnectivity(true, 3000, null), await ConnectivityAsync(thing));
    }

    [Fact]
    public async Task ApplyLifecycleEventAsync_rivalDeletesThingBetweenReadAndWrite_isUnknownAndNotRecreated()
    {
        var thing = await RegisteredAsync();
        var (raced, proxy) = await RacedStoreAsync(async table => await table.DeleteEntityAsync(thing, ""));
        await using (proxy)
        {
            Assert.Equal(LifecycleEventOutcome.UnknownThing, await raced.ApplyLifecycleEventAsync(Connected(thing, 2000), CancellationToken.None));
        }

        var direct = new TableClient(azurite.ConnectionString, TableNames.Things);
        Assert.False((await direct.GetEntityIfExistsAsync<TableEntity>(thing, "")).HasValue);
    }

    [Fact]
    public async Task ApplyLifecycleEventAsync_losesManyRacesToOlderRivals_stillApplies()
    {
        // Twelve rival instances each land an (older) event just before this write. Every lost race
        // means someone else made progress, so the newest event must keep retrying and win in the end;
        // giving up would fail the whole event batch and leave the thing's state stale until redelivery.
        var thing = await RegisteredAsync();
        var rivalWrites = 0;
        var (raced, proxy) = await RacedStoreAsync(async table =>
        {
            var n = Interlocked.Increment(ref rivalWrites);
            if (n <= 12)
            {
                await table.UpsertEntityAsync(StoredConnectivity(thing, connected: n % 2 == 0, 1000 + n, version: n), TableUpdateMode.Replace);
            }
        });
        Exception? failure;
        await using (proxy)
        {
            failure = await Record.ExceptionAsync(() => raced.ApplyLifecycleEventAsync(Connected(thing, 5000, version: 13), CancellationToken.None));
        }

        Assert.True(failure is null, $"gave up after {rivalWrites} lost races: {failure?.Message.Split('\n')[0]}");
        Assert.Equal(new ThingConnectivity(true, 5000, null), await ConnectivityAsync(thing));
    }
}
