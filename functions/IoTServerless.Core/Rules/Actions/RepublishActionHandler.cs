using System.Net;
using IoTServerless.Core.Topics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Rules.Actions;

/// <summary>
/// The <c>republish</c> action: publishes the SELECT output through the broker, all invocations of a
/// batch in one <see cref="IBrokerClient.PublishBatchAsync"/> call (split only beyond
/// <see cref="OutboundMessage.MaxBatchCount"/>). The topic is a substitution template; a leading
/// <c>$$</c> stands for <c>$</c> (AWS's escaping for reserved targets: <c>$$aws/things/…</c> publishes to
/// <c>$aws/things/…</c>). A topic that renders invalid or an output over 128 KB fails that invocation;
/// a broker that refuses the batch (4xx) fails all of them; a broker that stays unreachable or fails
/// (5xx) after <see cref="RulesOptions.ActionAttempts"/> tries is thrown, so the event is redelivered.
/// </summary>
public sealed class RepublishActionHandler(IBrokerClient broker, RuleTemplates templates, IOptions<RulesOptions> options, TimeProvider time, ILogger<RepublishActionHandler> logger) : IRuleActionHandler
{
    public string Kind => RuleActionKinds.Republish;

    public string Resource(RuleAction action) => action.Republish?.Topic ?? "";

    /// <summary>The template text of a rule's topic: a leading <c>$$</c> becomes <c>$</c>.</summary>
    public static string TopicTemplate(string topic) => topic.StartsWith("$$", StringComparison.Ordinal) ? topic[1..] : topic;

    public IReadOnlyList<string> Validate(RuleAction action)
    {
        if (action.Republish is not { } republish)
        {
            return ["the republish settings are missing."];
        }
        var problems = new List<string>();
        if (string.IsNullOrEmpty(republish.Topic))
        {
            problems.Add("topic is required.");
        }
        else
        {
            var template = TopicTemplate(republish.Topic);
            if (RuleTemplates.Check("topic", template) is { } problem)
            {
                problems.Add(problem);
            }
            else if (!template.Contains("${", StringComparison.Ordinal) && !MqttTopic.IsValidTopicName(template, out var error))
            {
                problems.Add($"topic '{republish.Topic}' is invalid: {error}");
            }
            else if (template.StartsWith(Engine.RulesEngine.BasicIngestPrefix, StringComparison.Ordinal))
            {
                problems.Add($"topic '{republish.Topic}' is a Basic Ingest topic; a rule may not republish into the rules engine.");
            }
        }
        if (republish.Qos is not (0 or 1))
        {
            problems.Add($"qos {republish.Qos} is not supported: 0 or 1.");
        }
        return problems;
    }

    public async Task<IReadOnlyList<string?>> ExecuteAsync(IReadOnlyList<RuleActionInvocation> invocations, CancellationToken cancellationToken)
    {
        var errors = new string?[invocations.Count];
        var messages = new List<OutboundMessage>(invocations.Count);
        var indexes = new List<int>(invocations.Count);
        for (var i = 0; i < invocations.Count; i++)
        {
            var invocation = invocations[i];
            var republish = invocation.Action.Republish!;
            string topic;
            try
            {
                topic = templates.Get(TopicTemplate(republish.Topic)).Render(invocation.Message);
            }
            catch (Exception ex) when (ex is Sql.RuleSqlException or FormatException or InvalidOperationException)
            {
                errors[i] = $"The topic '{republish.Topic}' could not be rendered: {ex.Message}";
                continue;
            }
            if (!MqttTopic.IsValidTopicName(topic, out var topicError))
            {
                errors[i] = $"The topic '{topic}' rendered from '{republish.Topic}' is invalid: {topicError}";
                continue;
            }
            if (topic.StartsWith(Engine.RulesEngine.BasicIngestPrefix, StringComparison.Ordinal))
            {
                errors[i] = $"The topic '{topic}' is a Basic Ingest topic; a rule may not republish into the rules engine.";
                continue;
            }
            if (invocation.Output.Length > OutboundMessage.MaxPayloadBytes)
            {
                errors[i] = $"The output is {invocation.Output.Length} bytes; a message carries at most {OutboundMessage.MaxPayloadBytes}.";
                continue;
            }
            messages.Add(new OutboundMessage(topic, invocation.Output, republish.Qos, republish.Retain));
            indexes.Add(i);
        }
        var offset = 0;
        foreach (var chunk in messages.Chunk(OutboundMessage.MaxBatchCount))
        {
            if (await PublishAsync(chunk, cancellationToken) is { } error)
            {
                for (var j = 0; j < chunk.Length; j++)
                {
                    errors[indexes[offset + j]] = error;
                }
            }
            offset += chunk.Length;
        }
        return errors;
    }

    /// <summary>Publishes one batch with retries; the error when the broker refused it (4xx); throws when it stays unavailable.</summary>
    async Task<string?> PublishAsync(IReadOnlyList<OutboundMessage> batch, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var delay = TimeSpan.FromMilliseconds(o.ActionRetryDelayMilliseconds);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await broker.PublishBatchAsync(batch, cancellationToken);
                return null;
            }
            catch (BrokerApiException ex) when (ex.StatusCode is not (HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests) && (int)ex.StatusCode < 500)
            {
                return ex.Message;
            }
            catch (Exception ex) when (attempt < o.ActionAttempts && ex is BrokerApiException or HttpRequestException or TimeoutException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Republishing {MessageCount} messages failed (attempt {Attempt} of {Attempts}); retrying", batch.Count, attempt, o.ActionAttempts);
                await Task.Delay(delay, time, cancellationToken);
                delay *= 2;
            }
        }
    }
}
