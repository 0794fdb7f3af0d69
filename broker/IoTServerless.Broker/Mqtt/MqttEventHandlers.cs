using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Text;
using IoTServerless.Broker.Sinks;
using IoTServerless.Core.Events;
using IoTServerless.Core.Security;
using IoTServerless.Core.Topics;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace IoTServerless.Broker.Mqtt;

/// <summary>
/// Binds MQTTnet's server events to the broker's services. Each handler is thin and catches its own
/// exceptions: a failure refuses that one request, never the server.
/// </summary>
public sealed class MqttEventHandlers(
    EventPipeline pipeline,
    ForwardingIndex forwarding,
    LifecycleEventPublisher lifecycle,
    BrokerMetrics metrics,
    TimeProvider time,
    ILogger<MqttEventHandlers> logger)
{
    const int MaxClientIdBytes = 128;
    const int MaxPayloadBytes = 128 * 1024;

    readonly ConcurrentDictionary<string, byte> _apiDisconnects = new(StringComparer.Ordinal);
    MqttServer? _server;

    public void Attach(MqttServer server)
    {
        _server = server;
        server.ValidatingConnectionAsync += OnValidatingConnectionAsync;
        server.ClientConnectedAsync += OnClientConnectedAsync;
        server.ClientDisconnectedAsync += OnClientDisconnectedAsync;
        server.InterceptingPublishAsync += OnInterceptingPublishAsync;
    }

    /// <summary>Marks the next disconnect of <paramref name="clientId"/> as initiated through the API.</summary>
    public void MarkApiDisconnect(string clientId) => _apiDisconnects[clientId] = 0;

    Task OnValidatingConnectionAsync(ValidatingConnectionEventArgs e)
    {
        try
        {
            var certificate = e.ChannelAdapter.ClientCertificate;
            if (certificate is null)
            {
                // TLS already requires a certificate; this guards any listener that does not.
                e.ReasonCode = MqttConnectReasonCode.NotAuthorized;
                return Task.CompletedTask;
            }
            if (string.IsNullOrEmpty(e.ClientId) || Encoding.UTF8.GetByteCount(e.ClientId) > MaxClientIdBytes)
            {
                e.ReasonCode = MqttConnectReasonCode.ClientIdentifierNotValid;
                return Task.CompletedTask;
            }
            e.SessionItems[SessionKeys.Principal] = CertificateFactory.GetCertificateId(certificate);
            e.SessionItems[SessionKeys.SessionId] = Guid.NewGuid().ToString();
            e.SessionItems[SessionKeys.IpAddress] = (e.ChannelAdapter.RemoteEndPoint as IPEndPoint)?.Address.ToString();
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Refusing connection of {ClientId}: validation failed", e.ClientId);
            e.ReasonCode = MqttConnectReasonCode.UnspecifiedError;
        }
        return Task.CompletedTask;
    }

    async Task OnClientConnectedAsync(ClientConnectedEventArgs e)
    {
        metrics.Connections.Add(1);
        await lifecycle.ConnectedAsync(_server!, e.ClientId,
            e.SessionItems[SessionKeys.SessionId] as string,
            e.SessionItems[SessionKeys.Principal] as string,
            e.SessionItems[SessionKeys.IpAddress] as string,
            CancellationToken.None);
    }

    async Task OnClientDisconnectedAsync(ClientDisconnectedEventArgs e)
    {
        metrics.Connections.Add(-1);
        var reason = _apiDisconnects.TryRemove(e.ClientId, out _)
            ? DisconnectReasons.ApiInitiated
            : e.DisconnectType switch
            {
                MqttClientDisconnectType.Clean => DisconnectReasons.ClientInitiated,
                MqttClientDisconnectType.Takeover => DisconnectReasons.DuplicateClientId,
                _ => DisconnectReasons.ConnectionLost,
            };
        await lifecycle.DisconnectedAsync(_server!, e.ClientId,
            e.SessionItems?[SessionKeys.SessionId] as string,
            e.SessionItems?[SessionKeys.Principal] as string,
            reason,
            CancellationToken.None);
    }

    async Task OnInterceptingPublishAsync(InterceptingPublishEventArgs e)
    {
        try
        {
            var message = e.ApplicationMessage;
            var topic = message.Topic;
            if (string.IsNullOrEmpty(e.ClientId))
            {
                return; // published by the platform itself (API, lifecycle): routed, not forwarded back
            }
            if (!MqttTopic.IsValidTopicName(topic, out _) || message.Payload.Length > MaxPayloadBytes)
            {
                Refuse(e, MqttPubAckReasonCode.TopicNameInvalid);
                return;
            }
            if (ReservedTopics.IsReserved(topic) && !forwarding.ShouldForward(topic))
            {
                // Reserved topics exist only as the contract lists them; devices cannot forge lifecycle events.
                Refuse(e, MqttPubAckReasonCode.NotAuthorized);
                return;
            }
            if (!pipeline.Enabled || !forwarding.ShouldForward(topic))
            {
                return;
            }
            var brokerMessage = new BrokerMessage
            {
                Id = pipeline.NextMessageId(),
                Topic = topic,
                Payload = message.Payload.ToArray(),
                Qos = (int)message.QualityOfServiceLevel,
                Retain = message.Retain,
                ClientId = e.ClientId,
                Principal = e.SessionItems[SessionKeys.Principal] as string,
                Timestamp = time.GetUtcNow().ToUnixTimeMilliseconds(),
            };
            if (message.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce)
            {
                pipeline.TryForward(brokerMessage);
            }
            else
            {
                // The PUBACK waits for the sink: at-least-once from device to rule action.
                await pipeline.ForwardAsync(brokerMessage, e.CancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            e.ProcessPublish = false; // the connection is closing; the client will retransmit
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Publish from {ClientId} to {Topic} failed", e.ClientId, e.ApplicationMessage.Topic);
            Refuse(e, MqttPubAckReasonCode.UnspecifiedError);
        }
    }

    static void Refuse(InterceptingPublishEventArgs e, MqttPubAckReasonCode reason)
    {
        e.ProcessPublish = false;
        e.Response.ReasonCode = reason;
    }
}
