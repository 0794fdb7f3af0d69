using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using IoTServerless.Broker.Sinks;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace IoTServerless.Broker.Mqtt;

/// <summary>
/// Coalesces MQTTnet's outbound writes. MQTTnet's send loop writes and flushes one packet at a time,
/// so every packet would cost its own TLS record and socket write. Here MQTTnet writes into an
/// in-memory pipe whose flush only hands the bytes over; one pump per connection moves everything
/// that has accumulated meanwhile into the TLS stream in a single write. Under load many packets
/// share a record and a syscall; at low rates a packet goes out alone, at once (<see cref="BurstScheduler"/>).
/// The pipe is bounded: past <c>maxBufferedBytes</c> MQTTnet's flush waits for the socket. The pump
/// reports the PUBLISHes it wrote to the connection's <see cref="OutboundGate"/>, which holds back
/// publishers while too many deliveries to it are still unsent. An idle connection holds no buffer.
/// The pump also holds back a PUBACK until the event sink accepted the message it acknowledges
/// (<see cref="OutboundGate.HoldAcknowledgement"/>), so MQTTnet's receive loop never waits for the sink.
/// </summary>
internal static class MqttWriteCoalescing
{
    static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    public static IConnectionBuilder UseMqttWriteCoalescing(this IConnectionBuilder builder, int maxBufferedBytes, int maxBacklog, BrokerTraffic traffic, OutboundGates gates, PublishShortcut? shortcut, TimeProvider time)
        => builder.Use(next => async context =>
        {
            var transport = context.Transport;
            var pipe = new Pipe(new PipeOptions(
                pool: context.Features.Get<IMemoryPoolFeature>()?.MemoryPool ?? MemoryPool<byte>.Shared,
                readerScheduler: new BurstScheduler(time, traffic),
                writerScheduler: PipeScheduler.Inline,
                pauseWriterThreshold: maxBufferedBytes,
                resumeWriterThreshold: maxBufferedBytes / 2,
                useSynchronizationContext: false));
            var gate = new OutboundGate(context.RemoteEndPoint, maxBacklog)
            {
                WakePump = pipe.Reader.CancelPendingRead,
                Abort = reason => context.Abort(new ConnectionAbortedException(reason)),
            };
            var pump = PumpAsync(pipe.Reader, transport.Output, traffic, gate, context);
            gates.Opened(gate);
            context.Transport = new DuplexPipe(shortcut?.Wrap(transport.Input, gate) ?? transport.Input, pipe.Writer);
            OutboundGate.Current = gate; // flows into MQTTnet's receive loop for this connection
            try
            {
                await next(context);
            }
            finally
            {
                gates.Closed(gate);
                // What MQTTnet wrote last (a DISCONNECT, a final PUBACK) still goes out before the connection closes.
                // A peer that stopped reading must not hold the connection open: give up on it after a while.
                await pipe.Writer.CompleteAsync();
                try
                {
                    await pump.WaitAsync(DrainTimeout);
                }
                catch (TimeoutException)
                {
                    transport.Output.CancelPendingFlush();
                    context.Abort(new ConnectionAbortedException("The peer did not take the last packets in time."));
                    await pump;
                }
            }
        });

    static async Task PumpAsync(PipeReader pending, PipeWriter output, BrokerTraffic traffic, OutboundGate gate, ConnectionContext connection)
    {
        try
        {
            while (true)
            {
                var result = await pending.ReadAsync();
                var buffer = result.Buffer;
                var unwritten = buffer.Start;
                var next = buffer.Start;
                var held = 0; // the released acknowledgement, written with what follows it
                while (true)
                {
                    // Write everything up to the next acknowledgement that still waits for the event
                    // sink; send that one (and what follows) only once the sink accepted its message.
                    var scan = Walk(buffer.Slice(next), gate);
                    if (scan.Hold is null)
                    {
                        if (!await WriteAsync(buffer.Slice(unwritten), output, traffic, gate, scan with { Packets = scan.Packets + held, Acknowledgements = scan.Acknowledgements + held }))
                        {
                            await pending.CompleteAsync();
                            return;
                        }
                        break;
                    }
                    if (!await WriteAsync(buffer.Slice(unwritten, scan.HeldStart), output, traffic, gate, scan with { Packets = scan.Packets + held, Acknowledgements = scan.Acknowledgements + held }))
                    {
                        await pending.CompleteAsync();
                        return;
                    }
                    try
                    {
                        await scan.Hold.WaitAsync(connection.ConnectionClosed);
                    }
                    catch (Exception)
                    {
                        // Not accepted (the broker is stopping) or the peer is gone: no PUBACK, the client retransmits.
                        connection.Abort(new ConnectionAbortedException("A held acknowledgement was not released."));
                        await pending.CompleteAsync();
                        return;
                    }
                    unwritten = scan.HeldStart;
                    next = scan.HeldEnd;
                    held = 1;
                }
                pending.AdvanceTo(buffer.End);
                if (result.IsCompleted) // a canceled read is a wake-up for direct deliveries and acknowledgements
                {
                    await DrainAcknowledgementsAsync(output, traffic, gate, connection);
                    break;
                }
            }
            await pending.CompleteAsync();
        }
        catch (Exception ex)
        {
            // A failed socket write ends the connection; MQTTnet's next flush sees the failure.
            await pending.CompleteAsync(ex);
        }
    }

    /// <summary>
    /// Writes the direct deliveries waiting (<see cref="OutboundGate.Deliver"/>), then <paramref name="bytes"/>
    /// (what MQTTnet wrote), and flushes them together; false when the peer is gone. Direct ones go
    /// first: the gate admits a direct delivery only once every PUBLISH queued through MQTTnet before it
    /// was sent (<see cref="OutboundGate.TryEnterDirect"/>), so any PUBLISH in <paramref name="bytes"/>
    /// was accepted after the direct ones waiting.
    /// </summary>
    static async ValueTask<bool> WriteAsync(ReadOnlySequence<byte> bytes, PipeWriter output, BrokerTraffic traffic, OutboundGate gate, Scan scan)
    {
        // All of them (at most the gate's backlog): one left behind would be overtaken by the bytes below.
        long written = 0;
        var direct = 0;
        while (gate.TryTakeDirect(out var packet))
        {
            output.Write(packet);
            written += packet.Length;
            direct++;
        }
        // The shortcut's PUBACKs whose messages were accepted, in order. MQTTnet's PUBACKs in the bytes
        // below answer PUBLISHes received after these (PublishShortcut hands a PUBLISH to MQTTnet only
        // once its own PUBACKs are written), so these go first too.
        var acknowledged = 0;
        while (gate.TryTakeAcknowledgement(out var packetId, out var failed))
        {
            if (failed)
            {
                gate.Abort?.Invoke("A message was not accepted, so it gets no PUBACK."); // the client retransmits on its next connection
                return false;
            }
            var puback = output.GetSpan(4);
            puback[0] = 0x40;
            puback[1] = 2;
            BinaryPrimitives.WriteUInt16BigEndian(puback[2..], packetId);
            output.Advance(4);
            written += 4;
            acknowledged++;
        }
        foreach (var segment in bytes)
        {
            output.Write(segment.Span);
        }
        written += bytes.Length;
        gate.DirectAcknowledgementsWritten(acknowledged);
        gate.HeldAcknowledgementsWritten(scan.Acknowledgements);
        int packets = scan.Packets, publishes = scan.Publishes;
        if (written == 0)
        {
            return true;
        }
        traffic.Sent(written, packets + direct + acknowledged, publishes + direct, direct);
        if ((await output.FlushAsync()).IsCompleted)
        {
            return false; // the peer is gone; MQTTnet learns it from its next write
        }
        gate.Sent(publishes + direct);
        return true;
    }

    /// <summary>
    /// MQTTnet flushes whole packets only, so the bytes handed over start and end on packet
    /// boundaries: walk the fixed headers (a few bytes per packet) to count packets and PUBLISHes,
    /// stopping at a PUBACK/PUBREC whose hold (<see cref="OutboundGate.HoldAcknowledgement"/>) has not completed.
    /// </summary>
    static Scan Walk(ReadOnlySequence<byte> buffer, OutboundGate gate)
    {
        var reader = new SequenceReader<byte>(buffer);
        int packets = 0, publishes = 0, acknowledgements = 0;
        while (!reader.End)
        {
            var packetStart = reader.Position;
            if (!MqttFixedHeader.TryRead(ref reader, out var first, out var length))
            {
                return new Scan(packets, publishes, acknowledgements, null, default, default);
            }
            packets++;
            var type = first >> 4;
            if (type == 3)
            {
                publishes++;
            }
            if (reader.Remaining < length)
            {
                break;
            }
            reader.Advance(length);
            if (type is 4 or 5)
            {
                var accepted = gate.NextAcknowledgement(out var wasHeld);
                if (!accepted.IsCompletedSuccessfully)
                {
                    return new Scan(packets - 1, publishes, acknowledgements, accepted, packetStart, reader.Position); // the held packet goes with the next write
                }
                acknowledgements += wasHeld ? 1 : 0;
            }
        }
        return new Scan(packets, publishes, acknowledgements, null, default, default);
    }

    /// <summary>
    /// The connection is closing: the shortcut's PUBACKs still waiting for the event sink go out as
    /// their messages are accepted, as MQTTnet's held ones do (within the drain timeout).
    /// </summary>
    static async Task DrainAcknowledgementsAsync(PipeWriter output, BrokerTraffic traffic, OutboundGate gate, ConnectionContext connection)
    {
        while (gate.PendingAcknowledgement() is { } accepted)
        {
            try
            {
                await accepted.WaitAsync(connection.ConnectionClosed);
            }
            catch (OperationCanceledException) when (connection.ConnectionClosed.IsCancellationRequested)
            {
                return;
            }
            catch (Exception)
            {
                // Not accepted: WriteAsync below closes the connection without its PUBACK.
            }
            if (!await WriteAsync(default, output, traffic, gate, default))
            {
                return;
            }
        }
    }

    /// <summary>
    /// Packets and PUBLISHes in a stretch of MQTTnet's bytes, the PUBACKs in it that had a hold
    /// (<see cref="OutboundGate.HoldAcknowledgement"/>), and the first PUBACK whose hold has not completed.
    /// </summary>
    readonly record struct Scan(int Packets, int Publishes, int Acknowledgements, Task? Hold, SequencePosition HeldStart, SequencePosition HeldEnd);

    /// <summary>
    /// Runs the pump inline, on the thread that woke it, unless this connection is in a burst: then on
    /// the thread pool, so that packets written while the pump works are coalesced into its next write
    /// (many publishers' messages to one subscriber share a TLS record and a socket write).
    /// A burst is <see cref="BurstWakes"/> wake-ups in a row, each within 200 µs of the one before. A lone
    /// packet, or two close together (a publisher catching up after a late timer, a reading and a
    /// lifecycle event), go out at once: a thread-pool hop costs them a worker's wake-up, on a machine
    /// whose other core may be idle.
    /// </summary>
    internal sealed class BurstScheduler(TimeProvider time, BrokerTraffic traffic) : PipeScheduler
    {
        /// <summary>Wake-ups in a row, each close to the one before, that make a burst.</summary>
        internal const int BurstWakes = 3;

        readonly long _burstTicks = time.TimestampFrequency / 5_000; // 200 µs
        long _last = long.MinValue;
        int _close; // wake-ups in a row within _burstTicks of the one before; a hint, not exact across threads

        public override void Schedule(Action<object?> action, object? state)
        {
            var now = time.GetTimestamp();
            var last = Interlocked.Exchange(ref _last, now);
            var close = last != long.MinValue && now - last <= _burstTicks ? Math.Min(_close + 1, BurstWakes) : 0;
            _close = close;
            if (PumpWakes.RunningDeferred || close < BurstWakes - 1)
            {
                traffic.PumpWoken(inline: true);
                action(state);
            }
            else
            {
                traffic.PumpWoken(inline: false);
                System.Threading.ThreadPool.UnsafeQueueUserWorkItem(action, state, preferLocal: false);
            }
        }
    }
}
