using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Rules.Actions;

/// <summary>
/// The <c>http</c> action: POSTs the SELECT output to a webhook (HTTPS; plain HTTP only to loopback
/// for local development). The URL and header values may hold substitution templates. Each request
/// carries <c>x-iot-message-id</c> (stable across redeliveries) and <c>x-iot-rule</c>: delivery is
/// at least once, so receivers de-duplicate on them. Network errors, timeouts, 408, 429 and 5xx are
/// retried with exponential backoff; other statuses fail at once; redirects are not followed.
/// </summary>
public sealed class HttpActionHandler : IRuleActionHandler
{
    readonly RuleWebhookSender _sender;
    readonly RuleTemplates _templates = new();
    readonly RuleActionOptions _options;
    readonly ILogger<HttpActionHandler> _logger;

    public HttpActionHandler(IHttpClientFactory httpClients, IOptions<RuleActionOptions> options, ILogger<HttpActionHandler> logger, TimeProvider? time = null)
    {
        _options = options.Value;
        _sender = new RuleWebhookSender(httpClients, _options, time ?? TimeProvider.System);
        _logger = logger;
    }

    public string Kind => "http";

    public string Resource(RuleAction action) => RuleWebhookSender.Redact(action.Http?.Url);

    public IReadOnlyList<string> Validate(RuleAction action)
    {
        var problems = new List<string>();
        if (action.Http is not { } http)
        {
            problems.Add("http: is required");
            return problems;
        }
        RuleWebhookSender.ValidateUrl("url", http.Url, allowTemplates: true, problems);
        RuleWebhookSender.ValidateHeaders(http.Headers, problems);
        return problems;
    }

    public Task<IReadOnlyList<string?>> ExecuteAsync(IReadOnlyList<RuleActionInvocation> invocations, CancellationToken cancellationToken)
        => RuleActionBatch.RunAsync(this, invocations, _options.MaxConcurrency, SendAsync, _logger, cancellationToken);

    async Task<string?> SendAsync(RuleActionInvocation invocation, CancellationToken cancellationToken)
    {
        if (invocation.Action.Http is not { } http)
        {
            return "not an http action";
        }
        string rendered;
        var ruleHeaders = http.Headers ?? [];
        var headers = new List<KeyValuePair<string, string>>(ruleHeaders.Count);
        try
        {
            rendered = _templates.Render(http.Url, invocation.Message);
            foreach (var header in ruleHeaders)
            {
                var value = _templates.Render(header.Value, invocation.Message);
                if (!RuleWebhookSender.IsValidHeaderValue(value))
                {
                    return $"header '{header.Key}': the rendered value contains a line break";
                }
                headers.Add(new(header.Key, value));
            }
        }
        catch (Sql.RuleSqlException e)
        {
            return $"substitution template: {e.Message}";
        }
        if (!Uri.TryCreate(rendered, UriKind.Absolute, out var url))
        {
            return "url: the rendered URL is not a valid absolute URL";
        }
        if (RuleWebhookSender.CheckUrl("url", url) is { } problem)
        {
            return problem;
        }
        return await _sender.PostAsync(url, headers, invocation, cancellationToken);
    }
}
