using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace IoTServerless.TlsFloor;

/// <summary>
/// TLS on a socket the way mosquitto runs it: OpenSSL reads and writes the socket itself (a socket BIO,
/// <c>SSL_set_fd</c>), with no memory BIOs, no managed record buffers and no async state machine per
/// record. The floor's <c>--tls openssl</c> mode (target tls-floor-native), to measure what a native TLS
/// layer would give a .NET server against SslStream (README "The floor under .NET"). Not in the broker:
/// tried there and not kept (same README section).
/// </summary>
/// <remarks>
/// <para>
/// The socket is non-blocking. When OpenSSL needs bytes that have not arrived, the stream waits with a
/// zero-byte receive (no buffer) and tries again; a zero-byte read of the stream itself waits the same
/// way, so an idle connection holds no buffer here either (<c>SSL_MODE_RELEASE_BUFFERS</c>).
/// </para>
/// <para>
/// Reads and writes come from different threads at once, so every call into the <c>SSL*</c> holds
/// <see cref="_gate"/>; none of them blocks, the socket being non-blocking. Each of them also holds a
/// reference on the socket's handle (<see cref="SafeHandle.DangerousAddRef"/>): closing the socket
/// elsewhere cannot close the descriptor under OpenSSL in the middle of a call, and once it is closed
/// no call is made, since a new connection may by then have the same descriptor number. (Holding the
/// reference for the connection's whole life instead makes <see cref="Socket.Close()"/> spin until it
/// is released.)
/// </para>
/// <para>
/// OpenSSL requires a client certificate and checks that the device holds its key, then hands the
/// certificate and the chain the device sent to a validation of the caller's (the broker's
/// <c>ClientCertificateValidator</c>, as with SslStream). A refused certificate ends the connection
/// before anything of it is read.
/// </para>
/// </remarks>
internal sealed class OpenSslStream : Stream
{
    readonly Socket _socket;
    readonly SafeSocketHandle _handle;
    readonly Lock _gate = new();
    nint _ssl;

    OpenSslStream(Socket socket)
    {
        _socket = socket;
        _handle = socket.SafeHandle;
    }

    /// <summary>The client certificate the handshake accepted.</summary>
    public X509Certificate2? RemoteCertificate { get; private set; }

    /// <summary>
    /// Runs the server side of the handshake on <paramref name="socket"/>, then lets <paramref name="validate"/>
    /// decide the client certificate with the intermediates the device sent. The stream owns the socket
    /// from here on, also when this fails.
    /// </summary>
    public static async Task<OpenSslStream> AcceptAsync(Socket socket, OpenSslContext context,
        Func<X509Certificate2, X509Certificate2Collection, bool> validate, CancellationToken cancellationToken)
    {
        OpenSslStream stream;
        try
        {
            socket.Blocking = false;
            stream = new OpenSslStream(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        try
        {
            stream.Attach(context);
            while (stream.Accept() is var (result, error) && result != 1)
            {
                await stream.WaitAsync(error, static e => new AuthenticationException($"TLS handshake failed (SSL_get_error {e})"), cancellationToken);
            }
            var (certificate, chain) = stream.PeerCertificates();
            stream.RemoteCertificate = certificate;
            try
            {
                if (!validate(certificate, chain))
                {
                    throw new AuthenticationException("The client certificate was refused.");
                }
            }
            finally
            {
                foreach (var intermediate in chain)
                {
                    intermediate.Dispose();
                }
            }
            return stream;
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }

    void Attach(OpenSslContext context)
    {
        lock (_gate)
        {
            _ssl = LibSsl.SSL_new(context.Handle);
            if (_ssl == 0 || LibSsl.SSL_set_fd(_ssl, checked((int)_handle.DangerousGetHandle())) != 1)
            {
                throw new AuthenticationException("OpenSSL could not set up the connection.");
            }
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            // Waits for bytes without a buffer: at once if OpenSSL holds some, else until the socket has some.
            if (!HasPending())
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
            return Call(write ? &LibSsl.SSL_write : &LibSsl.SSL_read, bytes, buffer.Length);
        }
    }

    unsafe (int Result, int Error) Accept() => Call(&SslAccept);

    unsafe bool HasPending() => Call(&SslHasPending).Result != 0;

    static unsafe int SslAccept(nint ssl, byte* unused, int none) => LibSsl.SSL_accept(ssl);

    static unsafe int SslHasPending(nint ssl, byte* unused, int none) => LibSsl.SSL_has_pending(ssl);

    /// <summary>One call into the <c>SSL*</c>: under the lock, with the socket's handle held, its error read at once (OpenSSL's error queue is per thread).</summary>
    unsafe (int Result, int Error) Call(delegate*<nint, byte*, int, int> call, byte* bytes = null, int count = 0)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_ssl == 0, this);
            var held = false;
            try
            {
                _handle.DangerousAddRef(ref held); // throws once the socket is closed
                LibSsl.ERR_clear_error();
                var result = call(_ssl, bytes, count);
                return (result, result > 0 ? 0 : LibSsl.SSL_get_error(_ssl, result));
            }
            finally
            {
                if (held)
                {
                    _handle.DangerousRelease();
                }
            }
        }
    }

    /// <summary>The device's certificate, and the other certificates it sent (its chain, without the certificate itself).</summary>
    (X509Certificate2 Certificate, X509Certificate2Collection Chain) PeerCertificates()
    {
        lock (_gate)
        {
            var x509 = LibSsl.SSL_get1_peer_certificate(_ssl);
            if (x509 == 0)
            {
                throw new AuthenticationException("The device sent no client certificate.");
            }
            X509Certificate2 certificate;
            try
            {
                certificate = new X509Certificate2(x509); // takes a reference of its own
            }
            finally
            {
                LibSsl.X509_free(x509);
            }
            X509Certificate2Collection chain = [];
            var sent = LibSsl.SSL_get_peer_cert_chain(_ssl); // on a server, without the device's certificate; not ours to free
            var count = sent == 0 ? 0 : LibSsl.OPENSSL_sk_num(sent);
            for (var i = 0; i < count; i++)
            {
                if (LibSsl.OPENSSL_sk_value(sent, i) is var other and not 0)
                {
                    chain.Add(new X509Certificate2(other));
                }
            }
            return (certificate, chain);
        }
    }

    protected override void Dispose(bool disposing)
    {
        lock (_gate)
        {
            if (_ssl != 0)
            {
                LibSsl.SSL_free(_ssl); // no close_notify (as with SslStream here: the connection is closed or closing); the descriptor is not touched
                _ssl = 0;
            }
        }
        if (disposing)
        {
            _socket.Dispose(); // the certificate stays: the connection's session may still read it, as with SslStream
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
/// An <c>SSL_CTX</c> with the broker's TLS settings: TLS 1.2 or 1.3, a client certificate required (its
/// chain decided afterwards by the caller's validation, see <see cref="OpenSslStream"/>),
/// record buffers released while idle (<c>SSL_MODE_RELEASE_BUFFERS</c>, as mosquitto sets it), no
/// server-side session cache.
/// </summary>
internal sealed unsafe class OpenSslContext : IDisposable
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

    /// <summary>The server's PEM certificate (with any intermediates after it) and PEM key, as the broker's TLS options name them.</summary>
    public static OpenSslContext Create(string certificatePath, string keyPath)
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
            Check((int)LibSsl.SSL_CTX_ctrl(ctx, CtrlSetMinProtoVersion, Tls12Version, 0), "minimum TLS version");
            LibSsl.SSL_CTX_ctrl(ctx, CtrlMode, ModeReleaseBuffers | ModeAcceptMovingWriteBuffer, 0);
            LibSsl.SSL_CTX_ctrl(ctx, CtrlSetReadAhead, 1, 0);
            LibSsl.SSL_CTX_ctrl(ctx, CtrlSetSessionCacheMode, 0, 0);
            LibSsl.SSL_CTX_set_verify(ctx, VerifyPeer | VerifyFailIfNoPeerCert, (nint)(delegate* unmanaged<int, nint, int>)&LeaveToValidator);
            return context;
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>OpenSSL's own chain check says nothing: the caller's validation decides after the handshake, with the same policy as for SslStream.</summary>
    [UnmanagedCallersOnly]
    static int LeaveToValidator(int preverified, nint storeContext) => 1;

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

/// <summary>The libssl and libcrypto calls <see cref="OpenSslStream"/> makes: the OpenSSL 3 the runtime itself loads (same sonames).</summary>
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
    [LibraryImport(Ssl)] public static partial nint SSL_get1_peer_certificate(nint ssl);
    [LibraryImport(Ssl)] public static partial nint SSL_get_peer_cert_chain(nint ssl);
    [LibraryImport(Crypto)] public static partial int OPENSSL_sk_num(nint stack);
    [LibraryImport(Crypto)] public static partial nint OPENSSL_sk_value(nint stack, int index);
    [LibraryImport(Crypto)] public static partial void X509_free(nint x509);
    [LibraryImport(Crypto)] public static partial void ERR_clear_error();
}
