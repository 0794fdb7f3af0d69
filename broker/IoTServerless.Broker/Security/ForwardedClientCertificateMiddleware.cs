using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;

namespace IoTServerless.Broker.Security;

/// <summary>
/// On the forwarded WebSocket listener only (<see cref="ForwardedWebSocketOptions"/>), takes the device
/// certificate from the ingress's header, checks it as the TLS listeners do (validity, and the CA bundle
/// when configured) and makes it the connection's client certificate, which CONNECT then checks against
/// the registry and policies. A request without a usable certificate is answered 401. Other listeners
/// never read the header: there the certificate is the one of the TLS handshake.
/// </summary>
public sealed class ForwardedClientCertificateMiddleware(
    RequestDelegate next,
    BrokerListeners listeners,
    ClientCertificateValidator validator,
    IOptions<BrokerOptions> options,
    ILogger<ForwardedClientCertificateMiddleware> logger)
{
    readonly string _header = options.Value.WebSockets.Forwarded.Header;

    public Task InvokeAsync(HttpContext context)
    {
        var port = listeners.ForwardedWebSocketPort;
        if (port == 0 || context.Connection.LocalPort != port)
        {
            return next(context);
        }
        var certificate = ForwardedClientCertificate.Parse(context.Request.Headers[_header].ToString());
        if (certificate is null || !validator.Validate(certificate))
        {
            logger.LogWarning("Refusing a forwarded WebSocket request from {RemoteAddress}: no acceptable client certificate in {Header}", context.Connection.RemoteIpAddress, _header);
            certificate?.Dispose();
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return Task.CompletedTask;
        }
        context.Connection.ClientCertificate = certificate;
        return next(context);
    }
}

/// <summary>Reads a client certificate forwarded in a header.</summary>
public static class ForwardedClientCertificate
{
    /// <summary>
    /// Envoy's <c>X-Forwarded-Client-Cert</c> (<c>Hash=…;Cert="&lt;URL-encoded PEM&gt;";Chain=…</c>), a
    /// URL-encoded or plain PEM certificate, or base64 DER; null when none can be read.
    /// </summary>
    public static X509Certificate2? Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Length > 64 * 1024)
        {
            return null;
        }
        var text = CertElement(value) ?? value.Trim();
        try
        {
            if (text.Contains('%', StringComparison.Ordinal))
            {
                text = Uri.UnescapeDataString(text);
            }
            return text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal)
                ? X509Certificate2.CreateFromPem(text)
                : X509CertificateLoader.LoadCertificate(Convert.FromBase64String(text));
        }
        catch (Exception ex) when (ex is CryptographicException or FormatException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The value of the first <c>Cert="…"</c> element of an Envoy XFCC header (the client's own certificate).</summary>
    static string? CertElement(string value)
    {
        const string Key = "Cert=\"";
        var start = 0;
        while ((start = value.IndexOf(Key, start, StringComparison.OrdinalIgnoreCase)) >= 0)
        {
            if (start == 0 || value[start - 1] is ';' or ',' or ' ')
            {
                var from = start + Key.Length;
                var end = value.IndexOf('"', from);
                return end > from ? value[from..end] : null;
            }
            start += Key.Length;
        }
        return null;
    }
}
