using System.Collections.Concurrent;
using System.Text.Json;
using IoTServerless.Broker.Sinks;
using IoTServerless.Core.Events;
using IoTServerless.Core.Security.Certificates;
using IoTServerless.Core.Topics;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace IoTServerless.Broker.Mqtt;

/// <summary>
/// Emits the contract's lifecycle events: presence on <c>$aws/events/presence/...</c> and just-in-time
/// registrations on <c>$aws/events/certificates/registered/...</c>, published to subscribers and
/// queued for the functions (where rules can act on them).
/// </summary>
public sealed class LifecycleEventPublisher(EventPipeline pipeline, SubscriberDispatch dispatch, TimeProvider time, ILogger<LifecycleEventPublisher> logger)
{
    readonly ConcurrentDictionary<string, long> _versions = new(StringComparer.Ordinal);

    public Task ConnectedAsync(MqttServer server, string clientId, string? sessionId, string? principal, string? ipAddress, CancellationToken cancellationToken)
    {
        var version = _versions.AddOrUpdate(clientId, 1, (_, v) => v + 1);
        return PublishAsync(server, ReservedTopics.PresenceConnected(clientId), new LifecycleEvent
        {
            ClientId = clientId,
            Timestamp = time.GetUtcNow().ToUnixTimeMilliseconds(),
            EventType = LifecycleEventTypes.Connected,
            SessionIdentifier = sessionId,
            PrincipalIdentifier = principal,
            VersionNumber = version,
            IpAddress = ipAddress,
        }, cancellationToken);
    }

    public Task DisconnectedAsync(MqttServer server, string clientId, string? sessionId, string? principal, string reason, CancellationToken cancellationToken)
        => PublishAsync(server, ReservedTopics.PresenceDisconnected(clientId), new LifecycleEvent
        {
            ClientId = clientId,
            Timestamp = time.GetUtcNow().ToUnixTimeMilliseconds(),
            EventType = LifecycleEventTypes.Disconnected,
            SessionIdentifier = sessionId,
            PrincipalIdentifier = principal,
            VersionNumber = _versions.GetValueOrDefault(clientId),
            ClientInitiatedDisconnect = reason == DisconnectReasons.ClientInitiated,
            DisconnectReason = reason,
        }, cancellationToken);

    /// <summary>A refused CONNECT; the connection never had a session, so no session id or version.</summary>
    public Task ConnectFailedAsync(MqttServer server, string clientId, string principal, string? ipAddress, string failureReason, CancellationToken cancellationToken)
        => PublishAsync(server, ReservedTopics.PresenceConnectFailed(clientId), new LifecycleEvent
        {
            ClientId = clientId,
            Timestamp = time.GetUtcNow().ToUnixTimeMilliseconds(),
            EventType = LifecycleEventTypes.ConnectFailed,
            PrincipalIdentifier = principal,
            IpAddress = ipAddress,
            FailureReason = failureReason,
        }, cancellationToken);

    public Task CertificateRegisteredAsync(MqttServer server, CertificateRegisteredEvent e, CancellationToken cancellationToken)
        => PublishAsync(server, ReservedTopics.CertificateRegistered(e.CaCertificateId),
            JsonSerializer.SerializeToUtf8Bytes(e, EventJsonContext.Default.CertificateRegisteredEvent), e.Timestamp, "certificate registered", e.CertificateId, cancellationToken);

    Task PublishAsync(MqttServer server, string topic, LifecycleEvent e, CancellationToken cancellationToken)
        => PublishAsync(server, topic, JsonSerializer.SerializeToUtf8Bytes(e, EventJsonContext.Default.LifecycleEvent), e.Timestamp, e.EventType, e.ClientId, cancellationToken);

    async Task PublishAsync(MqttServer server, string topic, byte[] payload, long timestamp, string eventType, string subject, CancellationToken cancellationToken)
    {
        try
        {
            if (pipeline.Enabled)
            {
                await pipeline.EnqueueAsync(new BrokerMessage
                {
                    Id = pipeline.NextMessageId(),
                    Topic = topic,
                    Payload = payload,
                    Qos = 1,
                    Timestamp = timestamp,
                }, cancellationToken);
            }
            var message = new MqttApplicationMessageBuilder()
                .WithTopic(topic)
                .WithPayload(payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .Build();
            await dispatch.PublishAsync(server, message, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogError(ex, "Could not publish lifecycle event {EventType} for {Subject}", eventType, subject);
        }
    }
}
