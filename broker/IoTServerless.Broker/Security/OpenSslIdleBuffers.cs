using System.Net.Security;
using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace IoTServerless.Broker.Security;

/// <summary>
/// Lets OpenSSL free a TLS connection's record buffers while the connection is idle
/// (<c>SSL_MODE_RELEASE_BUFFERS</c>, as mosquitto and nginx set it).
/// </summary>
/// <remarks>
/// Without it every connection keeps a read and a write record buffer of about 17 KB each for its
/// whole life, allocated at the handshake, although an idle device sends a PINGREQ a minute. With it
/// a buffer is taken from the allocator when a record is read or written and given back once empty.
/// .NET does not expose the mode, so the connection's <c>SSL*</c> is read from SslStream's security
/// context (a SafeHandle) and set with <c>SSL_ctrl</c> right after the handshake, before any MQTT
/// traffic. Where that is not possible (not OpenSSL, a runtime whose SslStream differs) nothing is
/// changed and the connection works as before.
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
    public static bool TryEnable(SslStream stream)
    {
        if (_unavailable || SecurityContext!.GetValue(stream) is not SafeHandle { IsInvalid: false, IsClosed: false } handle)
        {
            return false;
        }
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var mode = SslCtrl(handle.DangerousGetHandle(), SslCtrlMode, SslModeReleaseBuffers, 0);
            return (mode & SslModeReleaseBuffers) != 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _unavailable = true;
            return false;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Resolves to the libssl the runtime has already loaded (same soname).</summary>
    [DllImport("libssl.so.3", EntryPoint = "SSL_ctrl", ExactSpelling = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    static extern nint SslCtrl(nint ssl, int cmd, nint larg, nint parg);
}
