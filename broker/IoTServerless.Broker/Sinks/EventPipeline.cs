using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using IoTServerless.Core.Events;
using Microsoft.Extensions.Options;

namespace IoTServerless.Broker.Sinks;

/// <summary>
/// Carries messages that leave the broker to the event sink: a bounded buffer, packed into one
/// CloudEvent per window (bounded in count and bytes), retried with back-off until the sink accepts.
/// The window bounds how often a light load is sent; a full batch goes at once, so the window never
/// bounds throughput, and a full batch also goes while another is in flight (up to
/// <see cref="EventOptions.MaxConcurrentSends"/>), so the sink's round trip does not either.
/// A QoS 1 message's <see cref="ForwardAsync"/> completes only once its batch was accepted, so the
/// PUBACK follows acceptance (at-least-once); when the buffer is full, QoS 1 publishers wait
/// (back-pressure) and QoS 0 messages are dropped and counted.
/// </summary>
public sealed class EventPipeline : BackgroundService
{
    readonly Channel<Pending> _channel;
    readonly IEventSink _sink;
    readonly EventOptions _options;
    readonly BrokerMetrics _metrics;
    readonly TimeProvider _time;
    readonly ILogger<EventPipeline> _logger;
    readonly string _instance = Guid.NewGuid().ToString("N")[..12];
    long _batchSequence;
    long _messageSequence;
    long _awaited; // queued messages whose publisher waits for acceptance (QoS 1 PUBACKs held)
    long _buffered; // messages in the buffer
    volatile TaskCompletionSource? _windowCut; // ends the current window early: a QoS 1 message arrived, or a full batch waits
    volatile TaskCompletionSource? _batchFilled; // a full batch waits: another send may start while one is in flight

    public EventPipeline(IEventSink sink, IOptions<BrokerOptions> options, BrokerMetrics metrics, TimeProvider time, ILogger<EventPipeline> logger)
    {
        _sink = sink;
        _options = options.Value.Events;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        Enabled = options.Value.Events.Sink != EventSinkKind.None;
        _channel = Channel.CreateBounded<Pending>(new BoundedChannelOptions(_options.BufferCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>False when the sink is <see cref="EventSinkKind.None"/>: nothing leaves the broker.</summary>
    public bool Enabled { get; }

    /// <summary>Messages waiting for the sink.</summary>
    public int Buffered => _channel.Reader.Count;

    /// <summary>A new message id, unique across broker instances and restarts.</summary>
    public string NextMessageId() => $"{_instance}-{Interlocked.Increment(ref _messageSequence)}";

    /// <summary>Queues a message and waits until the sink has accepted it (QoS 1 path).</summary>
    public async Task ForwardAsync(BrokerMessage message, CancellationToken cancellationToken)
        => await (await QueueAsync(message, cancellationToken)).WaitAsync(cancellationToken);

    /// <summary>
    /// Queues a message that someone waits for (a QoS 1 PUBACK), waiting only for room in the buffer
    /// (back-pressure); the task returned completes once the sink accepted it, and is canceled when
    /// the broker stops first.
    /// </summary>
    public async ValueTask<Task> QueueAsync(BrokerMessage message, CancellationToken cancellationToken)
    {
        var pending = new Pending(message, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_channel.Writer.TryWrite(pending))
        {
            // The buffer is full: this publisher waits (its socket is not read meanwhile) until the sink catches up.
            var started = _time.GetTimestamp();
            await _channel.Writer.WriteAsync(pending, cancellationToken);
            _metrics.BackPressure.Record(_time.GetElapsedTime(started).TotalMilliseconds);
        }
        Interlocked.Increment(ref _awaited);
        Added();
        _windowCut?.TrySetResult();
        return pending.Accepted!.Task;
    }

    /// <summary>Queues a message without waiting for space; false (and counted) when it was dropped.</summary>
    public bool TryForward(BrokerMessage message)
    {
        if (_channel.Writer.TryWrite(new Pending(message, null)))
        {
            Added();
            return true;
        }
        _metrics.Dropped.Add(1);
        return false;
    }

    /// <summary>Queues a message, waiting for space but not for acceptance (platform-generated events).</summary>
    public async ValueTask EnqueueAsync(BrokerMessage message, CancellationToken cancellationToken)
    {
        await _channel.Writer.WriteAsync(new Pending(message, null), cancellationToken);
        Added();
    }

    /// <summary>One more message in the buffer; the one that completes a batch ends the window.</summary>
    void Added()
    {
        if (Interlocked.Increment(ref _buffered) == _options.MaxBatchMessages)
        {
            _windowCut?.TrySetResult();
            _batchFilled?.TrySetResult();
        }
    }

    bool BatchIsFull => Volatile.Read(ref _buffered) >= _options.MaxBatchMessages;

    /// <summary>
    /// At least the bytes <paramref name="message"/> takes in the batch's JSON: its payload in base64,
    /// its strings as if every character were escaped (<c>\uXXXX</c>), and the property names.
    /// </summary>
    internal static int EncodedSize(BrokerMessage message)
        => (message.Payload.Length + 2) / 3 * 4 + 6 * (message.Topic.Length + (message.ClientId?.Length ?? 0) + message.Id.Length) + (message.Principal?.Length ?? 0) + 128;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reader = _channel.Reader;
        var senders = new List<Sender>(_options.MaxConcurrentSends);
        Sender? filling = null;
        Pending? carry = null;
        var window = TimeSpan.FromMilliseconds(_options.BatchWindowMilliseconds);
        var acknowledgedWindow = TimeSpan.FromMilliseconds(Math.Min(_options.AcknowledgedBatchWindowMilliseconds, _options.BatchWindowMilliseconds));
        long lastSend = 0;
        try
        {
            while (carry is not null || await reader.WaitToReadAsync(stoppingToken))
            {
                // Up to MaxConcurrentSends batches in flight, each with its own list and encode buffer.
                filling = await NextSenderAsync(senders, full: carry is not null, stoppingToken);
                if (carry is null) // a carried message is what did not fit into the last batch: this one is full too
                {
                    await WaitForWindowAsync(lastSend, window, acknowledgedWindow, stoppingToken);
                }
                var batch = filling.Batch;
                batch.Clear();
                var bytes = 0;
                if (carry is not null)
                {
                    if (carry.Value.Accepted is not null)
                    {
                        Interlocked.Decrement(ref _awaited);
                    }
                    batch.Add(carry.Value);
                    bytes = EncodedSize(carry.Value.Message);
                    carry = null;
                }
                while (batch.Count < _options.MaxBatchMessages && reader.TryRead(out var next))
                {
                    Interlocked.Decrement(ref _buffered);
                    var size = EncodedSize(next.Message);
                    if (batch.Count > 0 && bytes + size > _options.MaxBatchBytes)
                    {
                        carry = next;
                        break;
                    }
                    batch.Add(next);
                    bytes += size;
                    if (next.Accepted is not null)
                    {
                        Interlocked.Decrement(ref _awaited);
                    }
                }
                if (batch.Count > 0)
                {
                    lastSend = _time.GetTimestamp();
                    filling.Running = SendWithRetryAsync(filling, stoppingToken);
                }
                filling = null;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            // Publishers still waiting get no PUBACK; their clients retransmit after reconnecting.
            foreach (var sender in senders)
            {
                if (sender.Running is { } running)
                {
                    await running; // ends at once when stopping: it cancels its own batch
                }
            }
            if (filling is not null)
            {
                foreach (var pending in filling.Batch)
                {
                    pending.Accepted?.TrySetCanceled(stoppingToken);
                }
            }
            carry?.Accepted?.TrySetCanceled(stoppingToken);
            while (reader.TryRead(out var left))
            {
                left.Accepted?.TrySetCanceled(stoppingToken);
            }
        }
    }

    /// <summary>
    /// The sender for the next batch. While a batch is in flight, another goes only once a full one
    /// waits (<paramref name="full"/>, or the buffer holds a batch): a light load keeps one send in
    /// flight and lets the next batch grow meanwhile, as QoS 1 PUBACKs are cheapest in few large
    /// batches; a heavy one is not bounded by one batch per round trip.
    /// </summary>
    async Task<Sender> NextSenderAsync(List<Sender> senders, bool full, CancellationToken stoppingToken)
    {
        while (true)
        {
            Sender? free = null;
            var busy = 0;
            foreach (var sender in senders)
            {
                if (sender.Running is null or { IsCompleted: true })
                {
                    sender.Running = null;
                    free ??= sender;
                }
                else
                {
                    busy++;
                }
            }
            if (free is null && senders.Count < _options.MaxConcurrentSends)
            {
                free = new Sender(_options.MaxBatchMessages);
                senders.Add(free);
            }
            if (free is not null && (busy == 0 || full || BatchIsFull))
            {
                return free;
            }
            var filled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _batchFilled = filled;
            // Checked after the signal exists, so a batch filling in between is not missed.
            if (free is null || !BatchIsFull)
            {
                var waits = senders.Where(s => s.Running is not null).Select(s => s.Running!).ToList();
                if (free is not null)
                {
                    waits.Add(filled.Task);
                }
                await Task.WhenAny(waits);
            }
            _batchFilled = null;
            stoppingToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>
    /// At most one send per window after <paramref name="lastSend"/>: an idle pipeline sends at once; a
    /// busy one lets the window fill the next batch (bounding sink operations per second), and a full
    /// batch ends the window. While a publisher waits for a PUBACK the shorter acknowledged window
    /// applies, so QoS 1 latency is the sink's round trip rather than the window; QoS 0 alone keeps the
    /// long window (nobody waits).
    /// </summary>
    async Task WaitForWindowAsync(long lastSend, TimeSpan window, TimeSpan acknowledgedWindow, CancellationToken stoppingToken)
    {
        if (lastSend == 0)
        {
            return;
        }
        while (!BatchIsFull)
        {
            var awaited = Volatile.Read(ref _awaited) > 0;
            var left = (awaited ? acknowledgedWindow : window) - _time.GetElapsedTime(lastSend);
            if (left <= TimeSpan.Zero)
            {
                return;
            }
            var cut = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _windowCut = cut;
            // Checked after the signal exists, so an arrival in between is not missed.
            if (!BatchIsFull && (awaited || Volatile.Read(ref _awaited) == 0 || acknowledgedWindow >= window))
            {
                await Task.WhenAny(Task.Delay(left, _time, stoppingToken), cut.Task);
            }
            _windowCut = null;
            stoppingToken.ThrowIfCancellationRequested();
        }
    }

    async Task SendWithRetryAsync(Sender sender, CancellationToken stoppingToken)
    {
        var batch = sender.Batch;
        var id = $"{_instance}-b{Interlocked.Increment(ref _batchSequence)}";
        // The sender's own buffer, reused: a batch is encoded once, in one pass, and sent (and retried) from it.
        sender.Encoded.ResetWrittenCount();
        sender.Encoder.Reset(sender.Encoded);
        EventEnvelope.WriteBatchEvents(sender.Encoder, id, batch.Select(p => p.Message), _time.GetUtcNow());
        var events = sender.Encoded.WrittenMemory;
        var delay = TimeSpan.FromMilliseconds(100);
        var maxDelay = TimeSpan.FromMilliseconds(_options.MaxRetryDelayMilliseconds);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                var started = _time.GetTimestamp();
                try
                {
                    await _sink.SendAsync(events, stoppingToken);
                    _metrics.SinkLatency.Record(_time.GetElapsedTime(started).TotalMilliseconds);
                    _metrics.BatchSize.Record(batch.Count);
                    _metrics.Forwarded.Add(batch.Count);
                    foreach (var pending in batch)
                    {
                        pending.Accepted?.TrySetResult();
                    }
                    if (attempt > 1)
                    {
                        _logger.LogInformation("Event sink accepted batch {BatchId} ({Count} messages) after {Attempts} attempts", id, batch.Count, attempt);
                    }
                    return;
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    _metrics.SinkFailures.Add(1);
                    _logger.LogWarning("Event sink did not accept batch {BatchId} ({Count} messages, attempt {Attempt}): {Error}; retrying in {Delay} ms",
                        id, batch.Count, attempt, ex.Message, (int)delay.TotalMilliseconds);
                    await Task.Delay(delay, _time, stoppingToken);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, maxDelay.Ticks));
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The broker stops: publishers still waiting get no PUBACK; their clients retransmit after reconnecting.
            foreach (var pending in batch)
            {
                pending.Accepted?.TrySetCanceled(stoppingToken);
            }
        }
    }

    /// <summary>One batch in flight at a time: its messages, and the buffer its CloudEvent is encoded into.</summary>
    sealed class Sender(int capacity)
    {
        public List<Pending> Batch { get; } = new(capacity);

        public ArrayBufferWriter<byte> Encoded { get; } = new(64 * 1024);

        public Utf8JsonWriter Encoder { get; } = new(Stream.Null);

        public Task? Running { get; set; }
    }

    readonly record struct Pending(BrokerMessage Message, TaskCompletionSource? Accepted);
}
