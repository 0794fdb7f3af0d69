using System.Buffers;
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
/// </summary>
internal static class MqttWriteCoalescing
{
    static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    public static IConnectionBuilder UseMqttWriteCoalescing(this IConnectionBuilder builder, int maxBufferedBytes, int maxBacklog, BrokerTraffic traffic, OutboundGates gates)
        => builder.Use(next => async context =>
        {
            var transport = context.Transport;
            var pipe = new Pipe(new PipeOptions(
                pool: context.Features.Get<IMemoryPoolFeature>()?.MemoryPool ?? MemoryPool<byte>.Shared,
                readerScheduler: new BurstScheduler(),
                writerScheduler: PipeScheduler.Inline,
                pauseWriterThreshold: maxBufferedBytes,
                resumeWriterThreshold: maxBufferedBytes / 2,
                useSynchronizationContext: false));
            var gate = new OutboundGate(context.RemoteEndPoint, maxBacklog);
            var pump = PumpAsync(pipe.Reader, transport.Output, traffic, gate);
            gates.Opened(gate);
            context.Transport = new CoalescedTransport(transport.Input, pipe.Writer);
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
                    await pump;
                }
            }
        });

    static async Task PumpAsync(PipeReader pending, PipeWriter output, BrokerTraffic traffic, OutboundGate gate)
    {
        try
        {
            while (true)
            {
                var result = await pending.ReadAsync();
                var buffer = result.Buffer;
                foreach (var segment in buffer)
                {
                    output.Write(segment.Span);
                }
                var publishes = buffer.IsEmpty ? 0 : CountPackets(buffer, traffic);
                pending.AdvanceTo(buffer.End);
                if (!buffer.IsEmpty && (await output.FlushAsync()).IsCompleted)
                {
                    break; // the peer is gone; MQTTnet learns it from its next write
                }
                gate.Sent(publishes);
                if (result.IsCompleted || result.IsCanceled)
                {
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
    /// MQTTnet flushes whole packets only, so the bytes handed over start and end on packet
    /// boundaries: walk the fixed headers (a few bytes per packet) to count packets and PUBLISHes.
    /// </summary>
    static int CountPackets(ReadOnlySequence<byte> buffer, BrokerTraffic traffic)
    {
        var reader = new SequenceReader<byte>(buffer);
        int packets = 0, publishes = 0;
        while (reader.TryRead(out var first))
        {
            long length = 0;
            var shift = 0;
            byte b;
            do
            {
                if (!reader.TryRead(out b) || shift > 21)
                {
                    traffic.Sent(buffer.Length, packets, publishes);
                    return publishes;
                }
                length |= (long)(b & 0x7F) << shift;
                shift += 7;
            }
            while ((b & 0x80) != 0);
            packets++;
            if (first >> 4 == 3)
            {
                publishes++;
            }
            if (reader.Remaining < length)
            {
                break;
            }
            reader.Advance(length);
        }
        traffic.Sent(buffer.Length, packets, publishes);
        return publishes;
    }

    /// <summary>
    /// Runs the pump inline when this connection's last flush is a while ago (a lone packet goes out
    /// at once, with no thread hop), and on the thread pool during a burst, so packets written while
    /// the pump works are coalesced into its next write.
    /// </summary>
    sealed class BurstScheduler : PipeScheduler
    {
        static readonly long BurstTicks = System.Diagnostics.Stopwatch.Frequency / 5_000; // 200 µs
        long _last;

        public override void Schedule(Action<object?> action, object? state)
        {
            var now = System.Diagnostics.Stopwatch.GetTimestamp();
            var last = Interlocked.Exchange(ref _last, now);
            if (now - last > BurstTicks)
            {
                action(state);
            }
            else
            {
                System.Threading.ThreadPool.UnsafeQueueUserWorkItem(action, state, preferLocal: false);
            }
        }
    }

    sealed class CoalescedTransport(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }
}
