using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using IoTServerless.Broker.Sinks;
using Microsoft.AspNetCore.Connections;

namespace IoTServerless.Broker.Mqtt;

/// <summary>
/// Checks MQTT frame headers as bytes arrive, before MQTTnet buffers a packet: the first packet must
/// be CONNECT and no packet may announce more than the configured size. A violation fails the read,
/// which closes that one connection; nothing is buffered for a packet that would be refused anyway.
/// A read that fails underneath (a reset, a bad TLS record) aborts the connection at once, so a write
/// still pending to that peer fails too instead of waiting for MQTTnet to wind the session down.
/// </summary>
internal static class MqttFrameGuard
{
    public static IConnectionBuilder UseMqttFrameGuard(this IConnectionBuilder builder, int maxPacketBytes, BrokerTraffic traffic)
        => builder.Use(next => context =>
        {
            context.Transport = new DuplexPipe(new GuardedReader(context.Transport.Input, maxPacketBytes, traffic, context), context.Transport.Output);
            return next(context);
        });

    /// <summary>
    /// MQTTnet consumes whole packets only, so every buffer it is handed starts on a frame boundary;
    /// the guard walks the frame headers in it (a few bytes per packet), each once: a buffer is
    /// handed out again and again as packets are consumed one by one, and the walk goes on from the
    /// first frame not yet walked.
    /// </summary>
    sealed class GuardedReader(PipeReader inner, int maxPacketBytes, BrokerTraffic traffic, ConnectionContext connection) : PipeReader
    {
        bool _connectSeen;
        ReadOnlySequence<byte> _last;
        long _walked; // bytes of whole frames from _last's start that were already checked

        // Pooled: every read that waits for the socket would otherwise allocate its state machine (with one
        // QoS 1 message in flight, every read), about a seventh of what the broker allocated per message.
        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            ReadResult result;
            try
            {
                result = await inner.ReadAsync(cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                connection.Abort();
                throw;
            }
            Inspect(result.Buffer);
            return result;
        }

        public override bool TryRead(out ReadResult result)
        {
            if (!inner.TryRead(out result))
            {
                return false;
            }
            Inspect(result.Buffer);
            return true;
        }

        void Inspect(ReadOnlySequence<byte> buffer)
        {
            // The buffer starts where the last one was consumed up to (Count keeps _walked relative to that).
            _last = buffer;
            var reader = new SequenceReader<byte>(buffer);
            if (_walked > 0)
            {
                reader.Advance(Math.Min(_walked, buffer.Length));
            }
            while (MqttFixedHeader.TryRead(ref reader, out var first, out var length))
            {
                if (!_connectSeen)
                {
                    if (first >> 4 != 1)
                    {
                        throw new InvalidDataException("The first MQTT packet must be CONNECT.");
                    }
                    _connectSeen = true;
                }
                else if (first >> 4 == 0)
                {
                    throw new InvalidDataException("Reserved MQTT packet type 0.");
                }
                if (length > maxPacketBytes)
                {
                    throw new InvalidDataException($"MQTT packet of {length} bytes exceeds the limit of {maxPacketBytes}.");
                }
                if (reader.Remaining < length)
                {
                    return;
                }
                reader.Advance(length);
                _walked = reader.Consumed;
            }
        }

        public override void AdvanceTo(SequencePosition consumed)
        {
            Count(consumed);
            inner.AdvanceTo(consumed);
        }

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            Count(consumed);
            inner.AdvanceTo(consumed, examined);
        }

        /// <summary>MQTTnet consumes one whole packet at a time: count its bytes, and whether it was a PUBLISH.</summary>
        void Count(SequencePosition consumed)
        {
            var packet = _last.Slice(_last.Start, consumed);
            if (!packet.IsEmpty)
            {
                traffic.Received(packet.Length, packet.FirstSpan[0] >> 4 == 3);
                _last = _last.Slice(consumed);
                _walked = Math.Max(0, _walked - packet.Length);
            }
        }

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
    }
}
