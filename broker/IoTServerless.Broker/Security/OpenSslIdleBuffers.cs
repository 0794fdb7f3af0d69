using System.Net.Security;
using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace IoTServerless.Broker.Security;

/// <summary>
/// Lets OpenSSL free a TLS connection's record buffers while the connection is idle
/// (<c>SSL_MODE_RELEASE_BUFFERS</c>, as mosquitto and nginx set it), and gives back the handshake's
/// buffers in the two memory BIOs SslStream passes records through.
/// </summary>
/// <remarks>
/// Without it every connection keeps a read and a write record buffer of about 17 KB each for its
/// whole life, allocated at the handshake, although an idle device sends a PINGREQ a minute. With it
/// a buffer is taken from the allocator when a record is read or written and given back once empty.
/// .NET does not expose the mode, so the connection's <c>SSL*</c> is read from SslStream's security
/// context (a SafeHandle) and set with <c>SSL_ctrl</c> right after the handshake, before any MQTT
/// traffic. Where that is not possible (not OpenSSL, a runtime whose SslStream differs) nothing is
/// changed and the connection works as before.
/// <para>
/// SslStream hands OpenSSL the bytes it reads, and takes the bytes to send, through a pair of memory
/// BIOs (mosquitto gives OpenSSL the socket instead). A memory BIO's buffer grows to the most it ever
/// held and never shrinks, so after the handshake each connection keeps about 2.5 KB in them (the
/// device's flight in one, the broker's in the other) for its whole life. Right after the handshake,
/// when both are empty, each gets a new, unallocated buffer (<c>BIO_set_mem_buf</c> with
/// <c>BIO_CLOSE</c>, which frees the old one); it grows again only to what the connection's own
/// records need.
/// </para>
/// </remarks>
internal static class OpenSslIdleBuffers
{
    const int SslCtrlMode = 33;               // SSL_CTRL_MODE
    const nint SslModeReleaseBuffers = 0x10;  // SSL_MODE_RELEASE_BUFFERS

    static readonly FieldInfo? SecurityContext = OperatingSystem.IsLinux()
        ? typeof(SslStream).GetField("_securityContext", BindingFlags.Instance | BindingFlags.NonPublic)
        : null;
    static volatile bool _unavailable = SecurityContext is null;

    /// <summary>Connection middleware for a listener that terminates TLS (after <c>UseHttps</c>).</summary>
    public static IConnectionBuilder UseOpenSslIdleBufferRelease(this IConnectionBuilder builder)
        => builder.Use(next => context =>
        {
            if (context.Features.Get<ISslStreamFeature>()?.SslStream is { } ssl)
            {
                TryEnable(ssl);
            }
            return next(context);
        });

    /// <summary>Sets the mode on an authenticated stream; false when this runtime or TLS library does not allow it.</summary>
    public static bool TryEnable(SslStream stream) => WithSsl(stream, static ssl =>
    {
        var mode = SslCtrl(ssl, SslCtrlMode, SslModeReleaseBuffers, 0);
        ReleaseIfEmpty(SslGetReadBio(ssl));
        ReleaseIfEmpty(SslGetWriteBio(ssl));
        return (mode & SslModeReleaseBuffers) != 0;
    }) ?? false;

    /// <summary>
    /// How many bytes the connection's read and write BIOs hold allocated (their buffers' capacity, not
    /// what is waiting in them); null where this runtime does not allow reading it.
    /// </summary>
    internal static (long Read, long Write)? BioCapacity(SslStream stream)
        => WithSsl(stream, static ssl => (Capacity(SslGetReadBio(ssl)), Capacity(SslGetWriteBio(ssl))));

    /// <summary>Runs <paramref name="use"/> on the stream's <c>SSL*</c>, kept alive meanwhile; null where there is none to use.</summary>
    static T? WithSsl<T>(SslStream stream, Func<nint, T> use) where T : struct
    {
        if (_unavailable || SecurityContext!.GetValue(stream) is not SafeHandle { IsInvalid: false, IsClosed: false } handle)
        {
            return null;
        }
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return use(handle.DangerousGetHandle());
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _unavailable = true;
            return null;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Swaps an empty memory BIO's buffer for an unallocated one; anything else is left alone.</summary>
    static void ReleaseIfEmpty(nint bio)
    {
        if (bio == 0 || BioMethodType(bio) != BioTypeMem || BioTestFlags(bio, BioFlagsMemReadOnly) != 0
            || BioCtrl(bio, BioCtrlGetClose, 0, 0) != BioClose || BioCtrl(bio, BioCtrlPending, 0, 0) != 0)
        {
            return;
        }
        var empty = BufMemNew();
        if (empty != 0)
        {
            BioCtrl(bio, BioSetBufMem, BioClose, empty); // frees the old BUF_MEM; the BIO owns the new one
        }
    }

    static long Capacity(nint bio)
    {
        if (bio == 0 || BioMethodType(bio) != BioTypeMem)
        {
            return -1;
        }
        var cell = Marshal.AllocHGlobal(IntPtr.Size);
        try
        {
            BioCtrl(bio, BioGetBufMemPtr, 0, cell);
            var buffer = Marshal.ReadIntPtr(cell);
            return buffer == 0 ? -1 : Marshal.ReadInt64(buffer, 2 * IntPtr.Size); // BUF_MEM { length, data, max, flags }
        }
        finally
        {
            Marshal.FreeHGlobal(cell);
        }
    }

    const int BioTypeMem = 0x0401;            // BIO_TYPE_MEM (1 | BIO_TYPE_SOURCE_SINK)
    const int BioFlagsMemReadOnly = 0x200;    // BIO_FLAGS_MEM_RDONLY
    const int BioCtrlGetClose = 8;            // BIO_CTRL_GET_CLOSE
    const int BioCtrlPending = 10;            // BIO_CTRL_PENDING
    const int BioSetBufMem = 114;             // BIO_C_SET_BUF_MEM
    const int BioGetBufMemPtr = 115;          // BIO_C_GET_BUF_MEM_PTR
    const int BioClose = 1;                   // BIO_CLOSE

    /// <summary>Resolves to the libssl the runtime has already loaded (same soname).</summary>
    [DllImport("libssl.so.3", EntryPoint = "SSL_ctrl", ExactSpelling = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    static extern nint SslCtrl(nint ssl, int cmd, nint larg, nint parg);

    [DllImport("libssl.so.3", EntryPoint = "SSL_get_rbio", ExactSpelling = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    static extern nint SslGetReadBio(nint ssl);

    [DllImport("libssl.so.3", EntryPoint = "SSL_get_wbio", ExactSpelling = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    static extern nint SslGetWriteBio(nint ssl);

    [DllImport("libcrypto.so.3", EntryPoint = "BIO_method_type", ExactSpelling = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    static extern int BioMethodType(nint bio);

    [DllImport("libcrypto.so.3", EntryPoint = "BIO_test_flags", ExactSpelling = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    static extern int BioTestFlags(nint bio, int flags);

    [DllImport("libcrypto.so.3", EntryPoint = "BIO_ctrl", ExactSpelling = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    static extern nint BioCtrl(nint bio, int cmd, nint larg, nint parg);

    [DllImport("libcrypto.so.3", EntryPoint = "BUF_MEM_new", ExactSpelling = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    static extern nint BufMemNew();
}
