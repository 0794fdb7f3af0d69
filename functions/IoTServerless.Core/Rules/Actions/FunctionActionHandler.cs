using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Rules.Actions;

/// <summary>
/// The <c>function</c> action (Lambda's place): POSTs the SELECT output to another function app's
/// HTTP endpoint, the same way as the http action (headers <c>x-iot-message-id</c>, <c>x-iot-rule</c>,
/// the same retries). Rules hold no secrets: with <c>keySetting</c> the function key is read from
/// that app setting (e.g. a Key Vault reference) and sent as <c>x-functions-key</c>; a missing
/// setting fails the invocation. In Azure the endpoint can instead be protected by App Service
/// authentication: leave <c>keySetting</c> out, set <c>Rules:Actions:FunctionAuthAudience</c>, and the
/// request carries a bearer token of this app's managed identity for that audience (never over
/// plain HTTP except to loopback).
/// </summary>
public sealed partial class FunctionActionHandler : IRuleActionHandler
{
    readonly RuleWebhookSender _sender;
    readonly RuleActionOptions _options;
    readonly IConfiguration _configuration;
    readonly IRuleActionTokenProvider? _tokens;
    readonly ILogger<FunctionActionHandler> _logger;

    public FunctionActionHandler(
        IHttpClientFactory httpClients,
        IConfiguration configuration,
        IOptions<RuleActionOptions> options,
        ILogger<FunctionActionHandler> logger,
        IRuleActionTokenProvider? tokens = null,
        TimeProvider? time = null)
    {
        _options = options.Value;
        _sender = new RuleWebhookSender(httpClients, _options, time ?? TimeProvider.System);
        _configuration = configuration;
        _tokens = tokens;
        _logger = logger;
    }

    public string Kind => "function";

    public string Resource(RuleAction action) => RuleWebhookSender.Redact(action.Function?.Url);

    public IReadOnlyList<string> Validate(RuleAction action)
    {
        var problems = new List<string>();
        if (action.Function is not { } function)
        {
            problems.Add("function: is required");
            return problems;
        }
        RuleWebhookSender.ValidateUrl("url", function.Url, allowTemplates: false, problems);
        if (function.KeySetting is { } setting && !SettingName().IsMatch(setting))
        {
            problems.Add("keySetting: must be the name of an app setting (1–128 letters, digits, '_', '-', '.', ':'; starting with a letter or '_'), not the key itself");
        }
        return problems;
    }

    public Task<IReadOnlyList<string?>> ExecuteAsync(IReadOnlyList<RuleActionInvocation> invocations, CancellationToken cancellationToken)
        => RuleActionBatch.RunAsync(this, invocations, _options.MaxConcurrency, SendAsync, _logger, cancellationToken);

    async Task<string?> SendAsync(RuleActionInvocation invocation, CancellationToken cancellationToken)
    {
        if (invocation.Action.Function is not { } function)
        {
            return "not a function action";
        }
        if (!Uri.TryCreate(function.Url, UriKind.Absolute, out var url))
        {
            return "url: is not a valid absolute URL";
        }
        if (RuleWebhookSender.CheckUrl("url", url) is { } problem)
        {
            return problem;
        }
        var headers = new List<KeyValuePair<string, string>>(1);
        if (!string.IsNullOrEmpty(function.KeySetting))
        {
            var key = _configuration[function.KeySetting];
            if (string.IsNullOrEmpty(key))
            {
                return $"keySetting: the app setting '{function.KeySetting}' holding the function key is not configured";
            }
            headers.Add(new(RuleWebhookSender.FunctionKeyHeader, key));
        }
        else if (!string.IsNullOrEmpty(_options.FunctionAuthAudience) && (url.Scheme == Uri.UriSchemeHttps || url.IsLoopback) && _tokens is not null)
        {
            string token;
            try
            {
                token = await _tokens.GetTokenAsync(Scope(_options.FunctionAuthAudience), cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                return $"managed identity token for '{_options.FunctionAuthAudience}' could not be obtained: {RuleActionRetry.FirstLine(e.Message)}";
            }
            headers.Add(new("Authorization", "Bearer " + token));
        }
        return await _sender.PostAsync(url, headers, invocation, cancellationToken);
    }

    static string Scope(string audience) => audience.EndsWith("/.default", StringComparison.Ordinal) ? audience : audience.TrimEnd('/') + "/.default";

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_.:\-]{0,127}$")]
    private static partial Regex SettingName();
}
