using IoTServerless.Core.Events;
using IoTServerless.Core.Topics;
using Microsoft.Extensions.Logging;

namespace IoTServerless.Core.Shadows;

/// <summary>
/// Serves the shadow requests devices publish (<c>$aws/things/{thing}/shadow/…/get|update|delete</c>)
/// from one event batch: requests for one shadow run in the order they were published, different
/// shadows run concurrently, and every answer and notification of the batch is published through
/// the broker in one call.
/// </summary>
public sealed class ShadowRequestHandler(ShadowService shadows, IBrokerClient broker, ILogger<ShadowRequestHandler> logger) : IMessageHandler
{
    /// <summary>How many shadows of one batch are worked on at once (Table round trips overlap).</summary>
    public const int MaxConcurrentShadows = 32;

    public string TopicFilter => ShadowTopic.RequestFilter;

    public async Task HandleAsync(IReadOnlyList<BrokerMessage> messages, CancellationToken cancellationToken)
    {
        var byShadow = new Dictionary<(string Thing, string? Shadow), List<(ShadowTopic Topic, BrokerMessage Message)>>();
        foreach (var message in messages)
        {
            // Answers and notifications (…/accepted, …/delta) are not requests; the platform's own publishes are not forwarded.
            if (message.ClientId is null || !ShadowTopic.TryParse(message.Topic, out var topic))
            {
                continue;
            }
            var key = (topic.ThingName, topic.ShadowName);
            if (!byShadow.TryGetValue(key, out var requests))
            {
                byShadow[key] = requests = [];
            }
            requests.Add((topic, message));
        }
        if (byShadow.Count == 0)
        {
            return;
        }
        var groups = byShadow.Values.ToArray();
        var answers = new List<OutboundMessage>[groups.Length];
        await Parallel.ForEachAsync(Enumerable.Range(0, groups.Length),
            new ParallelOptions { MaxDegreeOfParallelism = MaxConcurrentShadows, CancellationToken = cancellationToken },
            async (i, token) =>
            {
                var published = new List<OutboundMessage>();
                foreach (var (topic, message) in groups[i])
                {
                    var result = await ApplyAsync(topic, message.Payload, token);
                    logger.LogDebug("Shadow {Operation} of {ThingName}/{ShadowName} from {ClientId}: {StatusCode}",
                        topic.Operation, topic.ThingName, topic.ShadowName ?? "(classic)", message.ClientId, result.StatusCode);
                    published.AddRange(ShadowNotifications.For(topic, result));
                }
                answers[i] = published;
            });
        await broker.PublishBatchAsync([.. answers.SelectMany(a => a)], cancellationToken);
    }

    Task<ShadowResult> ApplyAsync(ShadowTopic topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) => topic.Operation switch
    {
        ShadowOperation.Get => shadows.GetAsync(topic.ThingName, topic.ShadowName, payload, cancellationToken),
        ShadowOperation.Update => shadows.UpdateAsync(topic.ThingName, topic.ShadowName, payload, cancellationToken),
        _ => shadows.DeleteAsync(topic.ThingName, topic.ShadowName, payload, cancellationToken),
    };
}
