using System.Collections.Concurrent;
using System.Text;
using Azure.Data.Tables;
using Azure.Messaging;
using IoTServerless.Core.Events;
using IoTServerless.Core.Storage;
using IoTServerless.Core.Tests.Storage;
using IoTServerless.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace IoTServerless.Core.Tests.Events;

/// <summary>The dispatcher over the real processed-event store in Azurite.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class EventDispatcherTests(AzuriteFixture azurite)
{
    readonly TableClientProvider _tables = TestTables.Provider(azurite);

    TableProcessedEventStore Store() => new(_tables, TimeProvider.System);

    static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    static BrokerMessage Message(string topic) => new()
    {
        Id = NewId("m"),
        Topic = topic,
        Payload = Encoding.UTF8.GetBytes(topic),
        Timestamp = 1,
    };

    static ParsedEvent Batch(string id, params BrokerMessage[] messages)
    {
        var batch = new MessageBatch { Messages = messages };
        return new ParsedEvent(EventEnvelope.CreateBatchEvent(id, batch, DateTimeOffset.UtcNow), batch);
    }

    EventDispatcher Dispatcher(params IMessageHandler[] handlers) => new(handlers, Store(), NullLogger<EventDispatcher>.Instance);

    /// <summary>A user handler: records what it was given and can be told to fail.</summary>
    sealed class RecordingHandler(string filter) : IMessageHandler
    {
        public string TopicFilter => filter;

        public ConcurrentQueue<BrokerMessage> Received { get; } = new();

        public int FailuresLeft { get; set; }

        public int Calls { get; private set; }

        public Task HandleAsync(IReadOnlyList<BrokerMessage> messages, CancellationToken cancellationToken)
        {
            Calls++;
            foreach (var message in messages)
            {
                Received.Enqueue(message);
            }
            if (FailuresLeft > 0)
            {
                FailuresLeft--;
                throw new InvalidOperationException("handler failed");
            }
            return Task.CompletedTask;
        }

        public string[] Topics => [.. Received.Select(m => m.Topic)];
    }

    [Fact]
    public async Task DispatchAsync_batch_routesEachMessageToHandlersWhoseFilterMatches()
    {
        var presence = new RecordingHandler("$aws/events/presence/+/+");
        var telemetry = new RecordingHandler("farm/+/telemetry");
        var all = new RecordingHandler("#");
        var dispatcher = Dispatcher(presence, telemetry, all);
        var messages = new[]
        {
            Message("$aws/events/presence/connected/pump-1"),
            Message("farm/pump-1/telemetry"),
            Message("farm/pump-1/status"),
            Message("farm/pump-2/telemetry"),
            Message("$aws/things/pump-1/shadow/update"),
        };

        var result = await dispatcher.DispatchAsync([Batch(NewId("route"), messages)], CancellationToken.None);

        Assert.Equal(new DispatchResult(1, 0, 0), result);
        Assert.Equal(["$aws/events/presence/connected/pump-1"], presence.Topics);
        Assert.Equal(["farm/pump-1/telemetry", "farm/pump-2/telemetry"], telemetry.Topics);
        // '#' sees every non-'$' topic, in order, and never the reserved ones.
        Assert.Equal(["farm/pump-1/telemetry", "farm/pump-1/status", "farm/pump-2/telemetry"], all.Topics);
        Assert.Same(messages[1], telemetry.Received.First());
        // One call per handler and event: a handler sees the whole batch it matches at once.
        Assert.Equal([1, 1, 1], new[] { presence.Calls, telemetry.Calls, all.Calls });
    }

    [Fact]
    public async Task DispatchAsync_redeliveredEventId_isSkipped()
    {
        var handler = new RecordingHandler("a/#");
        var id = NewId("redeliver");
        var evt = Batch(id, Message("a/1"), Message("a/2"));

        var first = await Dispatcher(handler).DispatchAsync([evt], CancellationToken.None);
        // A new dispatcher (another instance / invocation) sharing only the table.
        var again = await Dispatcher(handler).DispatchAsync([Batch(id, Message("a/3"))], CancellationToken.None);

        Assert.Equal(new DispatchResult(1, 0, 0), first);
        Assert.Equal(new DispatchResult(0, 1, 0), again);
        Assert.Equal(["a/1", "a/2"], handler.Topics);
        Assert.True(await Store().IsProcessedAsync(id, CancellationToken.None));
    }

    [Fact]
    public async Task DispatchAsync_sameIdTwiceInOneDelivery_isAppliedOnce()
    {
        var handler = new RecordingHandler("a/#");
        var id = NewId("twice");

        var result = await Dispatcher(handler).DispatchAsync([Batch(id, Message("a/1")), Batch(id, Message("a/1"))], CancellationToken.None);

        Assert.Equal(new DispatchResult(1, 1, 0), result);
        Assert.Single(handler.Received);
    }

    [Fact]
    public async Task DispatchAsync_handlerThrows_eventNotMarkedAndRetryReapplies()
    {
        var handler = new RecordingHandler("a/#") { FailuresLeft = 1 };
        var id = NewId("fail");
        var evt = Batch(id, Message("a/1"));

        await Assert.ThrowsAsync<InvalidOperationException>(() => Dispatcher(handler).DispatchAsync([evt], CancellationToken.None));
        Assert.False(await Store().IsProcessedAsync(id, CancellationToken.None));

        var retry = await Dispatcher(handler).DispatchAsync([evt], CancellationToken.None);

        Assert.Equal(new DispatchResult(1, 0, 0), retry);
        Assert.Equal(["a/1", "a/1"], handler.Topics);
        Assert.True(await Store().IsProcessedAsync(id, CancellationToken.None));
    }

    [Fact]
    public async Task DispatchAsync_secondHandlerThrows_eventNotMarked()
    {
        var ok = new RecordingHandler("a/+");
        var failing = new RecordingHandler("a/#") { FailuresLeft = 1 };
        var id = NewId("partial");

        await Assert.ThrowsAsync<InvalidOperationException>(() => Dispatcher(ok, failing).DispatchAsync([Batch(id, Message("a/1"))], CancellationToken.None));

        Assert.Single(ok.Received);
        Assert.False(await Store().IsProcessedAsync(id, CancellationToken.None));
    }

    [Fact]
    public async Task DispatchAsync_unknownEventType_isIgnoredAndNotRecorded()
    {
        var handler = new RecordingHandler("#");
        var id = NewId("unknown");
        var other = new CloudEvent("/elsewhere", "Other.Type", BinaryData.FromString("{\"messages\":[]}"), "application/json") { Id = id };
        var known = Batch(NewId("known"), Message("x/y"));

        var result = await Dispatcher(handler).DispatchAsync([new ParsedEvent(other, null), known], CancellationToken.None);

        Assert.Equal(new DispatchResult(1, 0, 1), result);
        Assert.Equal(["x/y"], handler.Topics);
        Assert.False(await Store().IsProcessedAsync(id, CancellationToken.None));
    }

    [Fact]
    public async Task DispatchAsync_noMatchingHandler_stillMarksProcessed()
    {
        var handler = new RecordingHandler("b/#");
        var id = NewId("nomatch");

        var result = await Dispatcher(handler).DispatchAsync([Batch(id, Message("a/1"))], CancellationToken.None);

        Assert.Equal(new DispatchResult(1, 0, 0), result);
        Assert.Empty(handler.Received);
        Assert.True(await Store().IsProcessedAsync(id, CancellationToken.None));
    }

    [Theory]
    [InlineData("broker-1/42")]
    [InlineData("a#b?c\\d%2F")]
    [InlineData("id with spaces")]
    public async Task ProcessedEventStore_idWithForbiddenKeyCharacters_roundTrips(string prefix)
    {
        var store = Store();
        var id = prefix + Guid.NewGuid().ToString("N");
        var lookalike = RowKeys.Escape(id);

        Assert.False(await store.IsProcessedAsync(id, CancellationToken.None));
        await store.MarkProcessedAsync(id, CancellationToken.None);

        Assert.True(await store.IsProcessedAsync(id, CancellationToken.None));
        if (lookalike != id)
        {
            // The escaped form of an id is a different id and must not be taken as processed.
            Assert.False(await store.IsProcessedAsync(lookalike, CancellationToken.None));
        }
    }

    [Fact]
    public async Task PurgeAsync_cutoff_removesOlderEntriesAndKeepsNewer()
    {
        var store = Store();
        // Mostly ids that share one partition (more than a 100-entity transaction), plus spread ones.
        var old = IdsInOneBucket(130).Concat(Enumerable.Range(0, 40).Select(i => NewId($"old{i}"))).ToArray();
        foreach (var chunk in old.Chunk(16))
        {
            await Task.WhenAll(chunk.Select(id => store.MarkProcessedAsync(id, CancellationToken.None)));
        }
        // Server timestamps come from Azurite on this machine's clock: leave a gap either side of the cutoff.
        await Task.Delay(50);
        var cutoff = DateTimeOffset.UtcNow;
        await Task.Delay(50);
        var fresh = Enumerable.Range(0, 5).Select(i => NewId($"new{i}")).ToArray();
        foreach (var id in fresh)
        {
            await store.MarkProcessedAsync(id, CancellationToken.None);
        }

        var purged = await store.PurgeAsync(cutoff, CancellationToken.None);

        // Other tests in this collection may have left older entries too; at least ours went.
        Assert.True(purged >= old.Length, $"purged {purged}, expected at least {old.Length}");
        foreach (var id in old)
        {
            Assert.False(await store.IsProcessedAsync(id, CancellationToken.None), $"{id} should have been purged");
        }
        foreach (var id in fresh)
        {
            Assert.True(await store.IsProcessedAsync(id, CancellationToken.None), $"{id} should have been kept");
        }
        var table = await _tables.GetTableAsync(TableNames.ProcessedEvents, CancellationToken.None);
        var remainingOld = 0;
        await foreach (var _ in table.QueryAsync<TableEntity>(entity => entity.Timestamp < cutoff))
        {
            remainingOld++;
        }
        Assert.Equal(0, remainingOld);

        Assert.Equal(0, await store.PurgeAsync(cutoff, CancellationToken.None));
    }

    /// <summary>Ids that the store's FNV-1a bucketing (64 buckets) puts into the same partition.</summary>
    static string[] IdsInOneBucket(int count)
    {
        var ids = new List<string>(count);
        uint? target = null;
        while (ids.Count < count)
        {
            var id = NewId("bucket");
            var hash = 2166136261u;
            foreach (var c in id)
            {
                hash = (hash ^ c) * 16777619u;
            }
            var bucket = hash % 64;
            target ??= bucket;
            if (bucket == target)
            {
                ids.Add(id);
            }
        }
        return [.. ids];
    }
}
