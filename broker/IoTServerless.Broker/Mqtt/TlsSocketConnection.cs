using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace IoTServerless.Broker.Mqtt;

/// <summary>
/// One MQTT/TLS connection of <see cref="MqttTlsListener"/>: an authenticated <see cref="SslStream"/>
/// straight on the socket, seen by the connection middleware (frame guard, write coalescing) and
/// MQTTnet as a <see cref="ConnectionContext"/>.
/// </summary>
/// <remarks>
/// Kestrel's transport puts two pipes and a stream adapter around SslStream: the socket's bytes go
/// through a pipe into SslStream and its plaintext through a second pipe to MQTTnet, and outbound the
/// same two ways back, each pipe with its own loop. Here the reader decrypts on the caller's read
/// (<see cref="PipeReader.Create(System.IO.Stream, StreamPipeReaderOptions?)"/> with zero-byte reads,
/// so an idle connection holds no buffer) and the writer encrypts each flush as one SslStream write
/// (<see cref="FlushWriter"/>): no pipe, no loop and no thread hop between the socket and MQTTnet.
/// </remarks>
internal sealed class TlsSocketConnection : ConnectionContext, ITlsConnectionFeature, IConnectionIdFeature, IConnectionEndPointFeature, IConnectionLifetimeFeature
{
    static long s_lastId;

    readonly Socket _socket;
    readonly SslStream _ssl;
    readonly CancellationTokenSource _closed = new();
    readonly long _id;
    string? _connectionId;
    IDictionary<object, object?>? _items;
    int _aborted;

    public TlsSocketConnection(Socket socket, SslStream ssl)
    {
        _socket = socket;
        _ssl = ssl;
        _id = Interlocked.Increment(ref s_lastId);
        LocalEndPoint = socket.LocalEndPoint;
        RemoteEndPoint = socket.RemoteEndPoint;
        ClientCertificate = ssl.RemoteCertificate as X509Certificate2;
        Features = new ConnectionFeatures(this);
        // A failed read aborts the connection in the frame guard, the first middleware on every MQTT
        // connection (MqttFrameGuard): no layer of its own here, and no state machine held by each idle read.
        // The peer's end of the stream (FIN) only ends MQTTnet's read, as on Kestrel: a last PUBACK may still go out.
        var input = PipeReader.Create(ssl, new StreamPipeReaderOptions(leaveOpen: true, useZeroByteReads: true));
        Transport = new DuplexPipe(input, new FlushWriter(ssl, this));
    }

    // Made on first use, as the items below: nothing on the MQTT path asks for them, and every idle
    // connection would hold them.
    public override string ConnectionId
    {
        get => _connectionId ??= "mqtt-" + _id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        set => _connectionId = value;
    }

    public override IFeatureCollection Features { get; }

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new ConnectionItems();
        set => _items = value;
    }

    public override IDuplexPipe Transport { get; set; }

    public override CancellationToken ConnectionClosed
    {
        get => _closed.Token;
        set => throw new NotSupportedException();
    }

    public X509Certificate2? ClientCertificate { get; set; }

    public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult(ClientCertificate);

    /// <summary>Closes the socket: reads and writes still pending fail, and <see cref="ConnectionClosed"/> fires.</summary>
    public override void Abort(ConnectionAbortedException abortReason) => Close();

    public override void Abort() => Close();

    /// <summary>The peer is gone (its end of the stream, a failed read or write): the connection is over.</summary>
    void Close()
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0)
        {
            return;
        }
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // already reset or closed by the peer
        }
        _socket.Close();
        // Whoever waits on the token (a held acknowledgement) runs elsewhere, not in this read or write.
        ThreadPool.UnsafeQueueUserWorkItem(static closed => closed.Cancel(), _closed, preferLocal: false);
    }

    public override async ValueTask DisposeAsync()
    {
        Close();
        await _ssl.DisposeAsync(); // the socket is closed: no close_notify is sent, as Kestrel does not
        await base.DisposeAsync();
    }

    /// <summary>
    /// The connection's features: the four the connection implements itself, held in no dictionary;
    /// a feature a middleware sets (or replaces) goes into a collection made on first use.
    /// </summary>
    sealed class ConnectionFeatures(TlsSocketConnection connection) : IFeatureCollection
    {
        static readonly Type[] Own = [typeof(ITlsConnectionFeature), typeof(IConnectionIdFeature), typeof(IConnectionEndPointFeature), typeof(IConnectionLifetimeFeature)];
        FeatureCollection? _set;

        public bool IsReadOnly => false;

        public int Revision => _set?.Revision ?? 0;

        public object? this[Type key]
        {
            get => _set?[key] ?? (Array.IndexOf(Own, key) >= 0 ? connection : null);
            set => (_set ??= new FeatureCollection())[key] = value;
        }

        public TFeature? Get<TFeature>() => (TFeature?)this[typeof(TFeature)];

        public void Set<TFeature>(TFeature? instance) => this[typeof(TFeature)] = instance;

        public IEnumerator<KeyValuePair<Type, object>> GetEnumerator()
        {
            foreach (var type in Own)
            {
                if (_set?[type] is null)
                {
                    yield return new(type, connection);
                }
            }
            if (_set is not null)
            {
                foreach (var feature in _set)
                {
                    yield return feature;
                }
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>
    /// Collects what is written until the flush, then sends it as one SslStream write (one TLS record
    /// up to 16 KB). The buffer is rented for that time only: an idle connection holds none.
    /// Only one writer at a time (the coalescing pump, or MQTTnet's channel under its lock).
    /// </summary>
    sealed class FlushWriter(SslStream ssl, TlsSocketConnection connection) : PipeWriter
    {
        const int MinimumBuffer = 4096;

        byte[]? _buffer;
        int _written;
        bool _completed;

        public override Memory<byte> GetMemory(int sizeHint = 0) => Ensure(sizeHint).AsMemory(_written);

        public override Span<byte> GetSpan(int sizeHint = 0) => Ensure(sizeHint).AsSpan(_written);

        byte[] Ensure(int sizeHint)
        {
            var needed = _written + Math.Max(sizeHint, 1);
            if (_buffer is null)
            {
                _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(needed, MinimumBuffer));
            }
            else if (_buffer.Length < needed)
            {
                var larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer.Length * 2));
                _buffer.AsSpan(0, _written).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = larger;
            }
            return _buffer;
        }

        public override void Advance(int bytes)
        {
            if (bytes < 0 || _buffer is null && bytes > 0 || _written + bytes > (_buffer?.Length ?? 0))
            {
                throw new ArgumentOutOfRangeException(nameof(bytes));
            }
            _written += bytes;
        }

        public override bool CanGetUnflushedBytes => true;

        public override long UnflushedBytes => _written;

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            if (_completed)
            {
                return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: true));
            }
            if (_written == 0)
            {
                Release();
                return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: false));
            }
            try
            {
                var write = ssl.WriteAsync(_buffer.AsMemory(0, _written), cancellationToken);
                if (write.IsCompletedSuccessfully)
                {
                    return new ValueTask<FlushResult>(Written());
                }
                return AwaitAsync(write);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
            {
                return new ValueTask<FlushResult>(Failed());
            }
        }

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        async ValueTask<FlushResult> AwaitAsync(ValueTask write)
        {
            try
            {
                await write;
                return Written();
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
            {
                return Failed();
            }
        }

        FlushResult Written()
        {
            Release();
            return new FlushResult(isCanceled: false, isCompleted: _completed);
        }

        /// <summary>The peer is gone: as a transport pipe whose reader completed, every later flush says so.</summary>
        FlushResult Failed()
        {
            _completed = true;
            Release();
            connection.Close();
            return new FlushResult(isCanceled: false, isCompleted: true);
        }

        void Release()
        {
            if (_buffer is { } buffer)
            {
                _buffer = null;
                ArrayPool<byte>.Shared.Return(buffer);
            }
            _written = 0;
        }

        /// <summary>A TLS write cannot be resumed once canceled: cancelling it closes the connection.</summary>
        public override void CancelPendingFlush() => connection.Close();

        /// <summary>
        /// No more writes. Unflushed bytes are dropped with their buffer, which is left to the GC rather
        /// than returned to the pool: a write still in progress on another thread may be sending from it.
        /// </summary>
        public override void Complete(Exception? exception = null)
        {
            _completed = true;
            _buffer = null;
            _written = 0;
        }
    }
}
