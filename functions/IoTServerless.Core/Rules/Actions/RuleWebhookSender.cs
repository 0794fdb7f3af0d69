using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;

namespace IoTServerless.Core.Rules.Actions;

/// <summary>
/// POSTs an invocation's output to a URL with retries: what the http and function actions share.
/// Every request carries <c>x-iot-message-id</c> and <c>x-iot-rule</c> so a receiver can drop the
/// duplicates that at-least-once delivery and retries produce.
/// </summary>
internal sealed partial class RuleWebhookSender(IHttpClientFactory httpClients, RuleActionOptions options, TimeProvider time)
{
    /// <summary>The named <see cref="HttpClient"/> (no redirects, per-attempt timeout from <see cref="RuleActionOptions.AttemptTimeout"/>).</summary>
    public const string HttpClientName = "IoTServerless.Rules.Actions";

    public const string MessageIdHeader = "x-iot-message-id";
    public const string RuleHeader = "x-iot-rule";
    public const string FunctionKeyHeader = "x-functions-key";

    const int MaxHeaders = 100;
    const int MaxHeaderValueLength = 8192;

    static readonly HashSet<string> ForbiddenHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        // Hop-by-hop (RFC 9110 §7.6.1) and framing headers the client sets itself.
        "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "TE", "Trailer",
        "Transfer-Encoding", "Upgrade", "Content-Length", "Host", "Expect",
        // Set by the action: a rule cannot forge them.
        MessageIdHeader, RuleHeader, FunctionKeyHeader,
    };

    readonly RuleActionRetry _retry = new(options, time);

    public async Task<string?> PostAsync(Uri url, IReadOnlyList<KeyValuePair<string, string>> headers, RuleActionInvocation invocation, CancellationToken cancellationToken)
    {
        var messageId = RuleActionContent.MessageId(invocation.Message);
        var contentType = RuleActionContent.ContentType(invocation.Output.Span);
        var client = httpClients.CreateClient(HttpClientName);
        return await _retry.RunAsync(async ct =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url);
            request.Content = new ReadOnlyMemoryContent(invocation.Output);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
            foreach (var (name, value) in headers)
            {
                if (string.Equals(name, "Content-Type", StringComparison.OrdinalIgnoreCase))
                {
                    // The rule's own content type replaces the detected one.
                    request.Content.Headers.Remove("Content-Type");
                }
                if (!request.Headers.TryAddWithoutValidation(name, value) && !request.Content.Headers.TryAddWithoutValidation(name, value))
                {
                    return ActionAttempt.Permanent($"header '{name}' could not be sent");
                }
            }
            request.Headers.TryAddWithoutValidation(MessageIdHeader, messageId);
            request.Headers.TryAddWithoutValidation(RuleHeader, invocation.RuleName);
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            return Judge(response);
        }, cancellationToken);
    }

    static ActionAttempt Judge(HttpResponseMessage response)
    {
        var status = (int)response.StatusCode;
        if (response.IsSuccessStatusCode)
        {
            return ActionAttempt.Success;
        }
        var error = $"HTTP {status} {response.ReasonPhrase}".TrimEnd();
        if (RuleActionRetry.IsTransientStatus(status))
        {
            return ActionAttempt.Transient(error, RetryAfter(response));
        }
        return status is >= 300 and < 400
            ? ActionAttempt.Permanent($"{error}: redirects are not followed; use the final URL")
            : ActionAttempt.Permanent(error);
    }

    static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }
        if (header?.Date is { } date)
        {
            var wait = date - DateTimeOffset.UtcNow;
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }
        return null;
    }

    /// <summary>The problem with a (rendered) target URL, or null: HTTPS, or plain HTTP to loopback for local development; no credentials in it.</summary>
    public static string? CheckUrl(string field, Uri url)
    {
        if (!url.IsAbsoluteUri)
        {
            return $"{field}: must be an absolute URL";
        }
        if (url.Scheme == Uri.UriSchemeHttp && !url.IsLoopback)
        {
            return $"{field}: must use https (plain http is allowed only to localhost/loopback for local development)";
        }
        if (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp)
        {
            return $"{field}: must be an absolute https URL";
        }
        if (!string.IsNullOrEmpty(url.UserInfo))
        {
            return $"{field}: must not contain credentials (user info); send them in a header or use a key setting";
        }
        return null;
    }

    /// <summary>Checks a URL field on save; with <paramref name="allowTemplates"/>, templates may appear after the host (the host itself must be literal).</summary>
    public static void ValidateUrl(string field, string? text, bool allowTemplates, List<string> problems)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            problems.Add($"{field}: is required");
            return;
        }
        var probe = text;
        if (RuleActionTemplates.IsTemplate(text))
        {
            if (!allowTemplates)
            {
                problems.Add($"{field}: substitution templates are not supported here");
                return;
            }
            if (!LiteralOrigin().IsMatch(text[..text.IndexOf("${", StringComparison.Ordinal)]))
            {
                problems.Add($"{field}: the scheme and host must be literal; substitution templates may appear only in the path and query");
                return;
            }
            if (RuleActionTemplates.Check(field, text) is { } templateProblem)
            {
                problems.Add(templateProblem);
                return;
            }
            probe = TemplateExpression().Replace(text, "x");
        }
        if (!Uri.TryCreate(probe, UriKind.Absolute, out var url))
        {
            problems.Add($"{field}: is not a valid absolute URL");
            return;
        }
        if (CheckUrl(field, url) is { } problem)
        {
            problems.Add(problem);
        }
    }

    /// <summary>Checks the headers on save: valid names, no hop-by-hop/Content-Length/reserved ones, values without line breaks, templates that compile.</summary>
    public static void ValidateHeaders(IReadOnlyList<HttpActionHeader>? headers, List<string> problems)
    {
        if (headers is null)
        {
            return;
        }
        if (headers.Count > MaxHeaders)
        {
            problems.Add($"headers: at most {MaxHeaders}");
        }
        for (var i = 0; i < headers.Count; i++)
        {
            var field = $"headers[{i}]";
            var header = headers[i];
            if (header is null)
            {
                problems.Add($"{field}: is null");
                continue;
            }
            if (string.IsNullOrEmpty(header.Key) || !HeaderName().IsMatch(header.Key))
            {
                problems.Add($"{field}.key: '{header.Key}' is not a valid HTTP header name");
            }
            else if (ForbiddenHeaders.Contains(header.Key))
            {
                problems.Add($"{field}.key: '{header.Key}' cannot be set by a rule (hop-by-hop, framing or set by the action)");
            }
            if (header.Value is null)
            {
                problems.Add($"{field}.value: is required");
                continue;
            }
            if (header.Value.Length > MaxHeaderValueLength)
            {
                problems.Add($"{field}.value: at most {MaxHeaderValueLength} characters");
            }
            if (header.Value.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0)
            {
                problems.Add($"{field}.value: must not contain line breaks");
            }
            if (RuleActionTemplates.Check($"{field}.value", header.Value) is { } templateProblem)
            {
                problems.Add(templateProblem);
            }
        }
    }

    /// <summary>The URL without query string or credentials, for failure documents and logs (a webhook's query often holds its secret).</summary>
    public static string Redact(string? url)
    {
        if (string.IsNullOrEmpty(url))
        {
            return "";
        }
        var cut = url.AsSpan().IndexOfAny('?', '#');
        var path = cut < 0 ? url : url[..cut];
        var at = path.IndexOf('@', StringComparison.Ordinal);
        var scheme = path.IndexOf("://", StringComparison.Ordinal);
        if (at > 0 && scheme > 0 && at > scheme && path.IndexOf('/', scheme + 3) is var slash && (slash < 0 || at < slash))
        {
            path = path[..(scheme + 3)] + path[(at + 1)..];
        }
        return path;
    }

    public static bool IsValidHeaderValue(string value) => value.AsSpan().IndexOfAny('\r', '\n', '\0') < 0;

    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9+.\-]*://[^/?#]+[/?#]")]
    private static partial Regex LiteralOrigin();

    [GeneratedRegex(@"\$\{[^}]*\}")]
    private static partial Regex TemplateExpression();

    // RFC 9110 token characters.
    [GeneratedRegex(@"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}$")]
    private static partial Regex HeaderName();
}
