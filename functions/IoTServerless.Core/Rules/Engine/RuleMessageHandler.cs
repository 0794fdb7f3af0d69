using IoTServerless.Core.Events;

namespace IoTServerless.Core.Rules.Engine;

/// <summary>
/// Feeds the broker messages of a batch to the <see cref="RulesEngine"/>. Registered twice: for
/// <c>#</c> (ordinary topics) and for <c>$aws/#</c> (Basic Ingest <c>$aws/rules/…</c> and rules on
/// reserved topics), as MQTT's <c>#</c> does not match topics starting with <c>$</c>.
/// </summary>
public sealed class RuleMessageHandler(string topicFilter, RulesEngine engine) : IMessageHandler
{
    public const string OrdinaryTopics = "#";
    public const string ReservedTopics = "$aws/#";

    public string TopicFilter { get; } = topicFilter;

    public Task HandleAsync(IReadOnlyList<BrokerMessage> messages, CancellationToken cancellationToken) => engine.RunAsync(messages, cancellationToken);
}
