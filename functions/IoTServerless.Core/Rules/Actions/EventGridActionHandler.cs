using System.Collections.Concurrent;
using Azure.Messaging;
using Azure.Messaging.EventGrid;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Rules.Actions;

/// <summary>Event Grid publisher clients per topic endpoint (behind an interface so tests mock the client, as the Azure SDK intends).</summary>
public interface IEventGridPublisherFactory
{
    EventGridPublisherClient GetClient(Uri topicEndpoint);
}

/// <summary>
/// One client per topic endpoint, authenticated with <c>DefaultAzureCredential</c> (the app's managed
/// identity, user-assigned when <see cref="RuleActionOptions.ManagedIdentityClientId"/> is set; it
/// needs the "EventGrid Data Sender" role on the topic). The SDK's own retries are off: the action retries.
/// </summary>
public sealed class EventGridPublisherFactory(IOptions<RuleActionOptions> options) : IEventGridPublisherFactory
{
    readonly ConcurrentDictionary<Uri, EventGridPublisherClient> _clients = new();
    readonly Lazy<Azure.Core.TokenCredential> _credential = new(() => RuleActionCredential.Create(options.Value));

    public EventGridPublisherClient GetClient(Uri topicEndpoint)
        => _clients.GetOrAdd(topicEndpoint, endpoint =>
        {
            var clientOptions = new EventGridPublisherClientOptions();
            clientOptions.Retry.MaxRetries = 0;
            clientOptions.Retry.NetworkTimeout = options.Value.AttemptTimeout;
            return new EventGridPublisherClient(endpoint, _credential.Value, clientOptions);
        });
}

/// <summary>
/// The <c>eventGrid</c> action: publishes each SELECT output as a CloudEvent 1.0 to an Event Grid
/// topic, batched per topic endpoint. The event id is <c>{messageId}:{ruleName}:{action digest}</c>,
/// the same for a redelivered message, so subscribers de-duplicate on it; source
/// <c>/iotserverless/rules/{ruleName}</c>, type from <c>type</c>, subject from the <c>subject</c> template
/// (default: the MQTT topic), time = the broker's receive time, data = the output (JSON, or
/// base64 binary data when the output is not JSON). Transient failures (network, 408, 429, 5xx)
/// are retried per batch; a failed batch fails each of its invocations.
/// </summary>
public sealed class EventGridActionHandler : IRuleActionHandler
{
    const int MaxEventsPerRequest = 100;
    const int MaxBytesPerRequest = 900 * 1024; // Event Grid accepts up to 1 MB per request.
    const int MaxEventBytes = 1024 * 1024;

    readonly IEventGridPublisherFactory _publishers;
    readonly RuleActionOptions _options;
    readonly RuleActionRetry _retry;
    readonly RuleActionTemplates _templates = new();
    readonly ILogger<EventGridActionHandler> _logger;

    public EventGridActionHandler(IEventGridPublisherFactory publishers, IOptions<RuleActionOptions> options, ILogger<EventGridActionHandler> logger, TimeProvider? time = null)
    {
        _publishers = publishers;
        _options = options.Value;
        _retry = new RuleActionRetry(_options, time ?? TimeProvider.System);
        _logger = logger;
    }

    public string Kind => "eventGrid";

    public string Resource(RuleAction action) => RuleWebhookSender.Redact(action.EventGrid?.TopicEndpoint);

    public IReadOnlyList<string> Validate(RuleAction action)
    {
        var problems = new List<string>();
        if (action.EventGrid is not { } eventGrid)
        {
            problems.Add("eventGrid: is required");
            return problems;
        }
        RuleWebhookSender.ValidateUrl("topicEndpoint", eventGrid.TopicEndpoint, allowTemplates: false, problems);
        if (string.IsNullOrWhiteSpace(eventGrid.Type))
        {
            problems.Add("type: is required");
        }
        else if (eventGrid.Type.Length > 256 || RuleActionTemplates.IsTemplate(eventGrid.Type))
        {
            problems.Add("type: must be literal text of at most 256 characters");
        }
        if (eventGrid.Subject is { } subject && RuleActionTemplates.Check("subject", subject) is { } problem)
        {
            problems.Add(problem);
        }
        return problems;
    }

    public async Task<IReadOnlyList<string?>> ExecuteAsync(IReadOnlyList<RuleActionInvocation> invocations, CancellationToken cancellationToken)
    {
        var results = new string?[invocations.Count];
        var batches = new List<(Uri Endpoint, List<(int Index, CloudEvent Event)> Events)>();
        var open = new Dictionary<Uri, (List<(int, CloudEvent)> Events, int Bytes)>();
        for (var i = 0; i < invocations.Count; i++)
        {
            var invocation = invocations[i];
            if (Prepare(invocation, out var endpoint, out var cloudEvent) is { } problem)
            {
                results[i] = problem;
                continue;
            }
            var size = invocation.Output.Length + 512;
            if (!open.TryGetValue(endpoint!, out var batch) || batch.Events.Count >= MaxEventsPerRequest || batch.Bytes + size > MaxBytesPerRequest)
            {
                batch = (new List<(int, CloudEvent)>(), 0);
                batches.Add((endpoint!, batch.Events));
            }
            batch.Events.Add((i, cloudEvent!));
            open[endpoint!] = (batch.Events, batch.Bytes + size);
        }

        await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _options.MaxConcurrency), CancellationToken = cancellationToken }, async (batch, ct) =>
        {
            string? error;
            try
            {
                var client = _publishers.GetClient(batch.Endpoint);
                var events = batch.Events.ConvertAll(e => e.Event);
                error = await _retry.RunAsync(async attemptCt =>
                {
                    await client.SendEventsAsync(events, attemptCt);
                    return ActionAttempt.Success;
                }, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e)
            {
                error = $"{e.GetType().Name}: {RuleActionRetry.FirstLine(e.Message)}";
            }
            foreach (var (index, _) in batch.Events)
            {
                results[index] = error;
            }
        });

        for (var i = 0; i < results.Length; i++)
        {
            if (results[i] is { } error)
            {
                _logger.LogWarning("Rule {RuleName} action {ActionKind} to {Resource} failed for message {MessageId}: {Error}",
                    invocations[i].RuleName, Kind, Resource(invocations[i].Action), RuleActionContent.MessageId(invocations[i].Message), error);
            }
        }
        return results;
    }

    string? Prepare(RuleActionInvocation invocation, out Uri? endpoint, out CloudEvent? cloudEvent)
    {
        endpoint = null;
        cloudEvent = null;
        if (invocation.Action.EventGrid is not { } action)
        {
            return "not an eventGrid action";
        }
        if (!Uri.TryCreate(action.TopicEndpoint, UriKind.Absolute, out endpoint) || RuleWebhookSender.CheckUrl("topicEndpoint", endpoint) is not null)
        {
            return "topicEndpoint: must be an https URL";
        }
        if (invocation.Output.Length > MaxEventBytes - 1024)
        {
            return $"the output ({invocation.Output.Length} bytes) is larger than an Event Grid event may be (1 MB)";
        }
        string subject;
        try
        {
            subject = action.Subject is null ? invocation.Message.Topic : _templates.Render(action.Subject, invocation.Message);
        }
        catch (Exception e)
        {
            return $"subject: substitution template: {RuleActionRetry.FirstLine(e.Message)}";
        }
        var json = RuleActionContent.IsJson(invocation.Output.Span);
        cloudEvent = new CloudEvent(
            $"/iotserverless/rules/{invocation.RuleName}",
            action.Type,
            BinaryData.FromBytes(invocation.Output),
            json ? RuleActionContent.JsonContentType : RuleActionContent.BinaryContentType,
            json ? CloudEventDataFormat.Json : CloudEventDataFormat.Binary)
        {
            Id = EventId(invocation),
            Subject = subject,
            Time = DateTimeOffset.FromUnixTimeMilliseconds(invocation.Message.Timestamp),
        };
        return null;
    }

    /// <summary>The same for every delivery of one message to one action of one rule.</summary>
    internal static string EventId(RuleActionInvocation invocation)
        => $"{RuleActionContent.MessageId(invocation.Message)}:{invocation.RuleName}:{RuleActionContent.Fingerprint(invocation.Action.EventGrid)}";
}
