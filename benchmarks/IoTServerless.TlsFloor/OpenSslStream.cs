using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Authentication;

namespace IoTServerless.TlsFloor;

/// <summary>
/// TLS on a socket the way mosquitto does it: OpenSSL reads and writes the socket itself (a socket BIO,
/// <c>SSL_set_fd</c>), with no memory BIOs, no managed record buffers and no async state machine per
/// record. The floor's <c>--tls openssl</c> mode, to measure what a native TLS layer would give a .NET
/// server against SslStream (README "The floor under .NET"). Not used by the broker.
/// </summary>
/// <remarks>
/// The socket is non-blocking; when OpenSSL needs bytes that have not arrived, the stream waits with a
/// zero-byte receive (no buffer) and tries again. Reads and writes may come from different threads at
/// once, so every call into the <c>SSL*</c> holds <see cref="_gate"/> (they never block: the socket is
/// non-blocking). The client certificate is verified by OpenSSL against the configured CA alone, as
/// mosquitto's <c>require_certificate</c> with a <c>cafile</c> does.
/// </remarks>
internal sealed class OpenSslStream : Stream
{
    readonly Socket _socket;
    readonly Lock _gate = new();
    nint _ssl;

    OpenSslStream(Socket socket, nint ssl)
    {
        _socket = socket;
        _ssl = ssl;
    }

    /// <summary>The client certificate the handshake verified, DER-encoded.</summary>
    public byte[] RemoteCertificate { get; private set; } = [];

    /// <summary>Runs the server side of the handshake on <paramref name="socket"/>; the stream owns the socket from here on.</summary>
    public static async Task<OpenSslStream> AcceptAsync(Socket socket, OpenSslContext context, CancellationToken cancellationToken)
    {
        socket.Blocking = false;
        var ssl = LibSsl.SSL_new(context.Handle);
        if (ssl == 0 || LibSsl.SSL_set_fd(ssl, (int)socket.Handle) != 1)
        {
            LibSsl.SSL_free(ssl);
            socket.Dispose();
            throw new AuthenticationException("SSL_new failed");
        }
        var stream = new OpenSslStream(socket, ssl);
        try
        {
            while (stream.Call(static ssl => LibSsl.SSL_accept(ssl)) is var (result, error) && result != 1)
            {
                await stream.WaitAsync(error, static e => new AuthenticationException($"TLS handshake failed (SSL_get_error {e})"), cancellationToken);
            }
            stream.RemoteCertificate = stream.PeerCertificate();
            return stream;
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            // Waits for bytes without a buffer: at once if OpenSSL holds some, else until the socket has some.
            if (Call(static ssl => LibSsl.SSL_has_pending(ssl)).Result == 0)
            {
                await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, cancellationToken);
            }
            return 0;
        }
        while (true)
        {
            var (read, error) = Transfer(buffer.Span, write: false);
            if (read > 0)
            {
                return read;
            }
            if (error == LibSsl.ErrorZeroReturn)
            {
                return 0; // closed with close_notify; closed without it is an error, which ends the connection too
            }
            await WaitAsync(error, static e => new IOException($"TLS read failed (SSL_get_error {e})"), cancellationToken);
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            var (written, error) = Transfer(MemoryMarshal.AsMemory(buffer).Span, write: true);
            if (written > 0)
            {
                buffer = buffer[written..];
                continue;
            }
            await WaitAsync(error, static e => new IOException($"TLS write failed (SSL_get_error {e})"), cancellationToken);
        }
    }

    /// <summary>Waits for what OpenSSL asked for, or throws what <paramref name="fail"/> makes of any other error.</summary>
    async ValueTask WaitAsync(int error, Func<int, Exception> fail, CancellationToken cancellationToken)
    {
        switch (error)
        {
            case LibSsl.ErrorWantRead:
                await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, cancellationToken);
                break;
            case LibSsl.ErrorWantWrite: // the socket's send buffer is full: rare, so polled
                while (!_socket.Poll(0, SelectMode.SelectWrite))
                {
                    await Task.Delay(1, cancellationToken);
                }
                break;
            default:
                throw fail(error);
        }
    }

    unsafe (int Result, int Error) Transfer(Span<byte> buffer, bool write)
    {
        fixed (byte* bytes = buffer)
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_ssl == 0, this);
                LibSsl.ERR_clear_error();
                var result = write ? LibSsl.SSL_write(_ssl, bytes, buffer.Length) : LibSsl.SSL_read(_ssl, bytes, buffer.Length);
                return (result, result > 0 ? 0 : LibSsl.SSL_get_error(_ssl, result));
            }
        }
    }

    (int Result, int Error) Call(Func<nint, int> call)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_ssl == 0, this);
            LibSsl.ERR_clear_error();
            var result = call(_ssl);
            return (result, result > 0 ? 0 : LibSsl.SSL_get_error(_ssl, result));
        }
    }

    unsafe byte[] PeerCertificate()
    {
        lock (_gate)
        {
            var x509 = LibSsl.SSL_get1_peer_certificate(_ssl);
            if (x509 == 0)
            {
                throw new AuthenticationException("no client certificate");
            }
            try
            {
                var length = LibSsl.i2d_X509(x509, null);
                if (length <= 0)
                {
                    throw new AuthenticationException("client certificate not encodable");
                }
                var der = new byte[length];
                fixed (byte* start = der)
                {
                    var at = start;
                    if (LibSsl.i2d_X509(x509, &at) != length)
                    {
                        throw new AuthenticationException("client certificate not encodable");
                    }
                }
                return der;
            }
            finally
            {
                LibSsl.X509_free(x509);
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        lock (_gate)
        {
            if (_ssl != 0)
            {
                LibSsl.ERR_clear_error();
                _ = LibSsl.SSL_shutdown(_ssl); // close_notify if the socket takes it now; nothing is waited for
                LibSsl.SSL_free(_ssl);
                _ssl = 0;
            }
        }
        if (disposing)
        {
            _socket.Dispose();
        }
        base.Dispose(disposing);
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override void Flush() { }
    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>
/// An <c>SSL_CTX</c> with the broker's TLS settings: TLS 1.2 or 1.3, a client certificate required and
/// verified against the configured CA file only, record buffers released while idle
/// (<c>SSL_MODE_RELEASE_BUFFERS</c>, as mosquitto sets it), no server-side session cache.
/// </summary>
internal sealed class OpenSslContext : IDisposable
{
    const int FiletypePem = 1;                  // SSL_FILETYPE_PEM
    const int VerifyPeer = 1;                   // SSL_VERIFY_PEER
    const int VerifyFailIfNoPeerCert = 2;       // SSL_VERIFY_FAIL_IF_NO_PEER_CERT
    const int CtrlMode = 33;                    // SSL_CTRL_MODE
    const int CtrlSetReadAhead = 41;            // SSL_CTRL_SET_READ_AHEAD
    const int CtrlSetSessionCacheMode = 44;     // SSL_CTRL_SET_SESS_CACHE_MODE
    const int CtrlSetMinProtoVersion = 123;     // SSL_CTRL_SET_MIN_PROTO_VERSION
    const nint Tls12Version = 0x0303;           // TLS1_2_VERSION
    const nint ModeAcceptMovingWriteBuffer = 0x2, ModeReleaseBuffers = 0x10;

    OpenSslContext(nint handle) => Handle = handle;

    public nint Handle { get; private set; }

    public static OpenSslContext Create(string certificatePath, string keyPath, string clientCaPath)
    {
        var ctx = LibSsl.SSL_CTX_new(LibSsl.TLS_server_method());
        if (ctx == 0)
        {
            throw new InvalidOperationException("SSL_CTX_new failed");
        }
        var context = new OpenSslContext(ctx);
        try
        {
            Check(LibSsl.SSL_CTX_use_certificate_chain_file(ctx, certificatePath), "server certificate");
            Check(LibSsl.SSL_CTX_use_PrivateKey_file(ctx, keyPath, FiletypePem), "server key");
            Check(LibSsl.SSL_CTX_check_private_key(ctx), "server key does not match the certificate");
            Check(LibSsl.SSL_CTX_load_verify_locations(ctx, clientCaPath, null), "client CA");
            Check((int)LibSsl.SSL_CTX_ctrl(ctx, CtrlSetMinProtoVersion, Tls12Version, 0), "minimum TLS version");
            LibSsl.SSL_CTX_ctrl(ctx, CtrlMode, ModeReleaseBuffers | ModeAcceptMovingWriteBuffer, 0);
            LibSsl.SSL_CTX_ctrl(ctx, CtrlSetReadAhead, 1, 0);
            LibSsl.SSL_CTX_ctrl(ctx, CtrlSetSessionCacheMode, 0, 0);
            LibSsl.SSL_CTX_set_verify(ctx, VerifyPeer | VerifyFailIfNoPeerCert, 0);
            return context;
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    static void Check(int result, string what)
    {
        if (result != 1)
        {
            throw new InvalidOperationException($"OpenSSL refused the {what}");
        }
    }

    public void Dispose()
    {
        if (Handle != 0)
        {
            LibSsl.SSL_CTX_free(Handle);
            Handle = 0;
        }
    }
}

/// <summary>The libssl and libcrypto calls the floor's native TLS makes; the same OpenSSL 3 the runtime loads.</summary>
internal static unsafe partial class LibSsl
{
    const string Ssl = "libssl.so.3";
    const string Crypto = "libcrypto.so.3";

    public const int ErrorWantRead = 2, ErrorWantWrite = 3, ErrorZeroReturn = 6;

    [LibraryImport(Ssl)] public static partial nint TLS_server_method();
    [LibraryImport(Ssl)] public static partial nint SSL_CTX_new(nint method);
    [LibraryImport(Ssl)] public static partial void SSL_CTX_free(nint ctx);
    [LibraryImport(Ssl, StringMarshalling = StringMarshalling.Utf8)] public static partial int SSL_CTX_use_certificate_chain_file(nint ctx, string file);
    [LibraryImport(Ssl, StringMarshalling = StringMarshalling.Utf8)] public static partial int SSL_CTX_use_PrivateKey_file(nint ctx, string file, int type);
    [LibraryImport(Ssl)] public static partial int SSL_CTX_check_private_key(nint ctx);
    [LibraryImport(Ssl, StringMarshalling = StringMarshalling.Utf8)] public static partial int SSL_CTX_load_verify_locations(nint ctx, string file, string? path);
    [LibraryImport(Ssl)] public static partial nint SSL_CTX_ctrl(nint ctx, int cmd, nint larg, nint parg);
    [LibraryImport(Ssl)] public static partial void SSL_CTX_set_verify(nint ctx, int mode, nint callback);
    [LibraryImport(Ssl)] public static partial nint SSL_new(nint ctx);
    [LibraryImport(Ssl)] public static partial void SSL_free(nint ssl);
    [LibraryImport(Ssl)] public static partial int SSL_set_fd(nint ssl, int fd);
    [LibraryImport(Ssl)] public static partial int SSL_accept(nint ssl);
    [LibraryImport(Ssl)] public static partial int SSL_read(nint ssl, byte* buffer, int count);
    [LibraryImport(Ssl)] public static partial int SSL_write(nint ssl, byte* buffer, int count);
    [LibraryImport(Ssl)] public static partial int SSL_has_pending(nint ssl);
    [LibraryImport(Ssl)] public static partial int SSL_get_error(nint ssl, int result);
    [LibraryImport(Ssl)] public static partial int SSL_shutdown(nint ssl);
    [LibraryImport(Ssl)] public static partial nint SSL_get1_peer_certificate(nint ssl);
    [LibraryImport(Crypto)] public static partial int i2d_X509(nint x509, byte** output);
    [LibraryImport(Crypto)] public static partial void X509_free(nint x509);
    [LibraryImport(Crypto)] public static partial void ERR_clear_error();
}
