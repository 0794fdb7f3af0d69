using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using IoTServerless.Broker.Security;
using IoTServerless.Broker.Sinks;
using IoTServerless.Core.Events;
using IoTServerless.Core.Security;
using IoTServerless.Core.Topics;
using Microsoft.Extensions.Options;
using MQTTnet;
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
    DeviceGatekeeper gatekeeper,
    OutboundGates gates,
    PublishShortcut shortcut,
    SubscriberIndex subscribers,
    SubscriberDispatch dispatch,
    RetainedMessages retained,
    IOptions<BrokerOptions> options,
    BrokerMetrics metrics,
    TimeProvider time,
    ILogger<MqttEventHandlers> logger)
{
    const int MaxClientIdBytes = 128;
    const int MaxPayloadBytes = 128 * 1024;

    readonly ConcurrentDictionary<string, string> _serverDisconnects = new(StringComparer.Ordinal);
    readonly bool _directDelivery = options.Value.Mqtt.DirectQos0;
    readonly bool _directQos1 = options.Value.Mqtt.DirectQos0 && options.Value.Mqtt.DirectQos1;
    MqttServer? _server;

    public void Attach(MqttServer server, IdentityChangeWatcher? watcher)
    {
        _server = server;
        shortcut.Attach(server, options.Value.Mqtt.DirectQos1, _directDelivery ? this : null);
        server.ValidatingConnectionAsync += OnValidatingConnectionAsync;
        server.ClientSubscribedTopicAsync += OnClientSubscribedTopicAsync;
        server.ClientUnsubscribedTopicAsync += OnClientUnsubscribedTopicAsync;
        server.SessionDeletedAsync += OnSessionDeletedAsync;
        server.ClientConnectedAsync += OnClientConnectedAsync;
        server.ClientDisconnectedAsync += OnClientDisconnectedAsync;
        server.InterceptingPublishAsync += OnInterceptingPublishAsync;
        server.InterceptingClientEnqueueAsync += OnInterceptingClientEnqueueAsync;
        if (gatekeeper.Enabled)
        {
            server.InterceptingSubscriptionAsync += OnInterceptingSubscriptionAsync;
        }
        if (watcher is not null)
        {
            watcher.Disconnecting += clientId => _serverDisconnects[clientId] = DisconnectReasons.AuthError;
        }
    }

    /// <summary>Marks the next disconnect of <paramref name="clientId"/> as initiated through the API.</summary>
    public void MarkApiDisconnect(string clientId) => _serverDisconnects[clientId] = DisconnectReasons.ApiInitiated;

    async Task OnValidatingConnectionAsync(ValidatingConnectionEventArgs e)
    {
        try
        {
            var certificate = e.ChannelAdapter.ClientCertificate;
            if (certificate is null)
            {
                // TLS already requires a certificate; this guards any listener that does not.
                e.ReasonCode = MqttConnectReasonCode.NotAuthorized;
                return;
            }
            if (string.IsNullOrEmpty(e.ClientId) || Encoding.UTF8.GetByteCount(e.ClientId) > MaxClientIdBytes)
            {
                e.ReasonCode = MqttConnectReasonCode.ClientIdentifierNotValid;
                return;
            }
            // Once per CONNECT: the policies, the refusal's event and the session all name the certificate by it.
            var certificateId = CertificateFactory.GetCertificateId(certificate);
            var admission = await gatekeeper.AdmitAsync(certificate, certificateId, e.ClientId, e.CancellationToken);
            if (!admission.IsAdmitted)
            {
                e.ReasonCode = MqttConnectReasonCode.NotAuthorized;
                metrics.Denied("connect");
                var failure = admission.Refusal == ConnectRefusal.ConnectNotAllowed ? ConnectFailureReasons.AuthorizationFailure : ConnectFailureReasons.AuthenticationFailure;
                await lifecycle.ConnectFailedAsync(_server!, e.ClientId, certificateId, IpOf(e), failure, e.CancellationToken);
                if (admission.Registered is { } registered)
                {
                    await lifecycle.CertificateRegisteredAsync(_server!, registered, e.CancellationToken);
                }
                return;
            }
            new BrokerSession(certificateId, IpOf(e), e.ProtocolVersion).AddTo(e.SessionItems);
            gates.Bind(e.ChannelAdapter.RemoteEndPoint, e.ClientId, e.ProtocolVersion, e.SessionItems);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Refusing connection of {ClientId}: validation failed", e.ClientId);
            e.ReasonCode = MqttConnectReasonCode.UnspecifiedError;
        }
    }

    static string? IpOf(ValidatingConnectionEventArgs e) => (e.ChannelAdapter.RemoteEndPoint as IPEndPoint)?.Address.ToString();

    Task OnInterceptingSubscriptionAsync(InterceptingSubscriptionEventArgs e)
    {
        try
        {
            var filter = e.TopicFilter.Topic;
            if (!MqttTopic.IsValidFilter(filter))
            {
                e.ProcessSubscription = false;
                e.Response.ReasonCode = MqttSubscribeReasonCode.TopicFilterInvalid;
            }
            else if (!gatekeeper.MaySubscribe(e.ClientId, filter))
            {
                metrics.Denied("subscribe");
                e.ProcessSubscription = false;
                e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
            }
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Subscribe of {ClientId} failed", e.ClientId);
            e.ProcessSubscription = false;
            e.Response.ReasonCode = MqttSubscribeReasonCode.UnspecifiedError;
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// Every delivery: <c>iot:Receive</c> for the receiving client, then back-pressure. A delivery to a
    /// congested connection waits here, on the publisher's receive path, so the publisher's socket is
    /// not read until the subscriber drains (or the back-pressure timeout passes). A QoS 0 delivery to
    /// an MQTT 3.1.x connection with room goes straight to its pump (<see cref="OutboundGate.Deliver"/>)
    /// instead of MQTTnet's session queue.
    /// </summary>
    Task OnInterceptingClientEnqueueAsync(InterceptingClientApplicationMessageEnqueueEventArgs e)
    {
        try
        {
            if (!gatekeeper.MayReceive(e.ReceiverClientId, e.ApplicationMessage.Topic))
            {
                e.AcceptEnqueue = false;
                metrics.Denied("receive");
                return Task.CompletedTask;
            }
            if (!gates.TryGet(e.ReceiverClientId, out var gate))
            {
                TryEnqueueRetainedAsPublished(e);
                return Task.CompletedTask;
            }
            if (!gate.IsMqtt3 && TryEnqueueRetainedAsPublished(e))
            {
                gate.Enter();
                return Task.CompletedTask;
            }
            if (_directDelivery && gate.IsMqtt3 && e.ApplicationMessage.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce && gate.TryEnterDirect())
            {
                // Straight to the subscriber's pump: no session queue, no send loop, no thread hop.
                gate.Deliver(PublishEncoder.EncodeQos0(e.ApplicationMessage));
                e.AcceptEnqueue = false;
                return Task.CompletedTask;
            }
            // QoS 1 likewise, recorded in the subscriber's session (Qos1Delivery). Not from an MQTT 5
            // publisher: its PUBACK's reason code counts the subscribers MQTTnet queued for.
            if (_directQos1 && gate.IsMqtt3 && e.ApplicationMessage.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtLeastOnce
                && OutboundGate.Current is not { IsMqtt3: false } && gate.Client is { } receiver
                && Qos1Delivery.TryDeliver(gate, receiver, e.ApplicationMessage, e.SenderClientId))
            {
                e.AcceptEnqueue = false;
                return Task.CompletedTask;
            }
            return gate.TryEnter() ? Task.CompletedTask : WaitForRoomAsync(e, gate);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Delivery check for {ClientId} failed", e.ReceiverClientId);
            e.AcceptEnqueue = false;
            return Task.CompletedTask;
        }
    }

    /// <summary>
    /// The live copy of a retained message (<see cref="RetainedMessages.RetainForLiveCopy"/>) to an MQTT 5
    /// subscription with Retain As Published: queued in the session with the retain flag, as MQTTnet
    /// would have sent the message as published. True when it was (MQTTnet then queues nothing).
    /// </summary>
    bool TryEnqueueRetainedAsPublished(InterceptingClientApplicationMessageEnqueueEventArgs e)
    {
        if (!retained.TryGetPublished(e.ApplicationMessage, out var published) || shortcut.Client(e.ReceiverClientId) is not { } client)
        {
            return false;
        }
        MQTTnet.Server.Internal.MqttTopicHash.Calculate(published.Topic, out var topicHash, out _, out _);
        if (!client.Session.TryCheckSubscriptions(published.Topic, topicHash, published.QualityOfServiceLevel, e.SenderClientId, out var subscription)
            || !subscription.IsSubscribed || !subscription.RetainAsPublished)
        {
            return false;
        }
        var packet = MQTTnet.Server.Internal.Formatter.MqttPublishPacketFactory.Create(published);
        packet.QualityOfServiceLevel = subscription.QualityOfServiceLevel;
        packet.SubscriptionIdentifiers = subscription.SubscriptionIdentifiers;
        client.Session.EnqueueDataPacket(new MQTTnet.Internal.MqttPacketBusItem(packet));
        e.AcceptEnqueue = false;
        return true;
    }

    async Task WaitForRoomAsync(InterceptingClientApplicationMessageEnqueueEventArgs e, OutboundGate gate)
    {
        var started = time.GetTimestamp();
        var entered = await gate.EnterAsync(TimeSpan.FromMilliseconds(options.Value.Mqtt.BackPressureTimeoutMilliseconds));
        metrics.DeliveryWait.Record(time.GetElapsedTime(started).TotalMilliseconds);
        if (entered)
        {
            return;
        }
        if (e.ApplicationMessage.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce)
        {
            e.AcceptEnqueue = false;
            metrics.DeliveryDropped.Add(1);
        }
        else
        {
            gate.Enter(); // a QoS 1 message is queued in the session even so
        }
    }

    /// <summary>
    /// Dispatches <paramref name="message"/>, taken by <see cref="PublishShortcut"/> from
    /// <paramref name="publisher"/>'s MQTT 3.1.x client, without MQTTnet's dispatch, when
    /// <see cref="SubscriberDispatch"/> can deliver it: the same checks and forwarding as through
    /// MQTTnet's interceptors, then the deliveries. False (nothing done, MQTTnet dispatches it) otherwise.
    /// <paramref name="dispatched"/> gives what the PUBACK waits for, or null when none may go out (the connection closes).
    /// </summary>
    internal bool TryDispatchDirect(OutboundGate publisher, MqttApplicationMessage message, CancellationToken cancellationToken, out ValueTask<Task?> dispatched)
    {
        dispatched = default;
        if (!dispatch.TryCollect(message, platform: false, out var receivers))
        {
            return false;
        }
        dispatched = DispatchDirectAsync(publisher, message, receivers, cancellationToken);
        return true;
    }

    async ValueTask<Task?> DispatchDirectAsync(OutboundGate publisher, MqttApplicationMessage message, SubscriberDispatch.Receiver[] receivers, CancellationToken cancellationToken)
    {
        var senderId = publisher.ClientId!;
        PublishOutcome outcome;
        try
        {
            outcome = await CheckPublishAsync(senderId, publisher.SessionItems, message, holdAcknowledgement: true, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return Task.FromCanceled(new CancellationToken(canceled: true)); // the connection is closing: no PUBACK, the client retransmits
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Publish from {ClientId} to {Topic} failed", senderId, message.Topic);
            return Task.FromCanceled(new CancellationToken(canceled: true));
        }
        if (outcome.Refusal != MqttPubAckReasonCode.Success)
        {
            if (outcome.CloseConnection)
            {
                publisher.Abort?.Invoke("Publish not authorized.");
                return null;
            }
            return Task.CompletedTask; // acknowledged, not delivered: MQTT 3.1.1 has no negative PUBACK
        }
        var delivered = dispatch.DeliverAsync(senderId, receivers, dispatch.Kept(message));
        if (!delivered.IsCompletedSuccessfully)
        {
            await delivered; // back-pressure: this publisher's socket is not read meanwhile
        }
        return outcome.Accepted;
    }

    Task OnClientSubscribedTopicAsync(ClientSubscribedTopicEventArgs e)
    {
        var added = subscribers.Subscribed(e.ClientId, e.SessionItems, e.TopicFilter.Topic);
        try
        {
            EnqueueRetained(e, added);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Retained messages for {ClientId} on {TopicFilter} failed", e.ClientId, e.TopicFilter.Topic);
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// The retained messages a new subscription gets (MQTTnet stores none: <see cref="RetainedMessages"/>),
    /// queued in the subscriber's session with the retain flag set, each at the lower of its QoS and the
    /// subscription's, each checked against <c>iot:Receive</c>. Raised by MQTTnet while it handles the
    /// SUBSCRIBE, one filter at a time, as MQTT 3.1.1 §3.8.4 describes a SUBSCRIBE of several filters.
    /// </summary>
    void EnqueueRetained(ClientSubscribedTopicEventArgs e, bool newSubscription)
    {
        var filter = e.TopicFilter;
        if (retained.Count == 0 || filter.RetainHandling == MqttRetainHandling.DoNotSendOnSubscribe
            || filter.RetainHandling == MqttRetainHandling.SendAtSubscribeIfNewSubscriptionOnly && !newSubscription)
        {
            return;
        }
        var matches = retained.Match(filter.Topic);
        if (matches.Count == 0 || shortcut.Client(e.ClientId) is not { } client || !ReferenceEquals(client.Session.Items, e.SessionItems))
        {
            return;
        }
        gates.TryGet(e.ClientId, out var gate);
        foreach (var message in matches)
        {
            if (!gatekeeper.MayReceive(e.ClientId, message.Topic))
            {
                metrics.Denied("receive");
                continue;
            }
            var packet = MQTTnet.Server.Internal.Formatter.MqttPublishPacketFactory.Create(message);
            packet.QualityOfServiceLevel = (MqttQualityOfServiceLevel)Math.Min((int)message.QualityOfServiceLevel, (int)filter.QualityOfServiceLevel);
            gate?.Enter(); // counted as every delivery through MQTTnet's queue is, until the pump writes it
            client.Session.EnqueueDataPacket(new MQTTnet.Internal.MqttPacketBusItem(packet));
        }
    }

    Task OnClientUnsubscribedTopicAsync(ClientUnsubscribedTopicEventArgs e)
    {
        subscribers.Unsubscribed(e.ClientId, e.SessionItems, e.TopicFilter);
        return Task.CompletedTask;
    }

    Task OnSessionDeletedAsync(SessionDeletedEventArgs e)
    {
        subscribers.SessionDeleted(e.Id, e.SessionItems);
        return Task.CompletedTask;
    }

    async Task OnClientConnectedAsync(ClientConnectedEventArgs e)
    {
        subscribers.Connected(e.ClientId, e.SessionItems);
        metrics.Connections.Add(1);
        var session = BrokerSession.Of(e.SessionItems);
        await lifecycle.ConnectedAsync(_server!, e.ClientId,
            session?.SessionId.ToString(),
            session?.Principal,
            session?.IpAddress,
            CancellationToken.None);
    }

    async Task OnClientDisconnectedAsync(ClientDisconnectedEventArgs e)
    {
        metrics.Connections.Add(-1);
        gatekeeper.Disconnected(e.ClientId, takenOver: e.DisconnectType == MqttClientDisconnectType.Takeover);
        var reason = _serverDisconnects.TryRemove(e.ClientId, out var marked)
            ? marked
            : e.DisconnectType switch
            {
                MqttClientDisconnectType.Clean => DisconnectReasons.ClientInitiated,
                MqttClientDisconnectType.Takeover => DisconnectReasons.DuplicateClientId,
                _ => DisconnectReasons.ConnectionLost,
            };
        var session = BrokerSession.Of(e.SessionItems);
        await lifecycle.DisconnectedAsync(_server!, e.ClientId,
            session?.SessionId.ToString(),
            session?.Principal,
            reason,
            CancellationToken.None);
    }

    /// <summary>
    /// Every PUBLISH received. For QoS 1 on a coalesced connection the PUBACK's release is registered
    /// with the connection's pump (<see cref="OutboundGate.HoldAcknowledgement"/>): one hold per
    /// PUBLISH, in order, completed at once unless the message waits for the event sink.
    /// </summary>
    async Task OnInterceptingPublishAsync(InterceptingPublishEventArgs e)
    {
        var message = e.ApplicationMessage;
        var connection = message.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce ? null : OutboundGate.Current;
        if (connection is not null && !string.Equals(connection.ClientId, e.ClientId, StringComparison.Ordinal))
        {
            connection = null; // not this connection's own PUBLISH (a platform publish made on its flow)
        }
        var accepted = Task.CompletedTask;
        try
        {
            accepted = await InterceptPublishAsync(e, connection is not null);
            if (e.ProcessPublish && message.Retain && shortcut.HasSessions)
            {
                // The broker keeps it (RetainedMessages); MQTTnet dispatches a live copy and stores nothing.
                // (Without MQTTnet's sessions in reach, another MQTTnet version, MQTTnet keeps its retained messages.)
                e.ApplicationMessage = retained.RetainForLiveCopy(message);
            }
        }
        catch (OperationCanceledException)
        {
            e.ProcessPublish = false; // the connection is closing; the client will retransmit
            accepted = Task.FromCanceled(new CancellationToken(canceled: true)); // so no PUBACK goes out
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Publish from {ClientId} to {Topic} failed", e.ClientId, e.ApplicationMessage.Topic);
            Refuse(e, MqttPubAckReasonCode.UnspecifiedError);
        }
        if (connection is not null && !e.CloseConnection)
        {
            connection.HoldAcknowledgement(accepted, message);
        }
    }

    /// <summary>
    /// Checks and forwards one PUBLISH. Returns what its PUBACK waits for: the sink's acceptance when
    /// <paramref name="holdAcknowledgement"/> (the pump holds the PUBACK, the receive loop goes on),
    /// otherwise nothing, having waited here.
    /// </summary>
    async ValueTask<Task> InterceptPublishAsync(InterceptingPublishEventArgs e, bool holdAcknowledgement)
    {
        var message = e.ApplicationMessage;
        var outcome = await CheckPublishAsync(e.ClientId, e.SessionItems, message, holdAcknowledgement, e.CancellationToken);
        if (outcome.Refusal != MqttPubAckReasonCode.Success)
        {
            Refuse(e, outcome.Refusal);
            e.CloseConnection = outcome.CloseConnection;
            if (e.CloseConnection && OutboundGate.Current is { } shortcutConnection && ReferenceEquals(shortcutConnection.ShortcutMessage, message))
            {
                shortcutConnection.Abort?.Invoke("Publish not authorized."); // taken by the shortcut, past MQTTnet's loop: close it here
            }
        }
        return outcome.Accepted;
    }

    /// <summary>
    /// What becomes of one PUBLISH from a client: refused (and why, and whether its connection closes)
    /// or forwarded to the event sink, and what its PUBACK waits for.
    /// </summary>
    readonly record struct PublishOutcome(MqttPubAckReasonCode Refusal, bool CloseConnection, Task Accepted)
    {
        public static readonly PublishOutcome Accept = new(MqttPubAckReasonCode.Success, false, Task.CompletedTask);

        public static PublishOutcome Refused(MqttPubAckReasonCode reason, bool close = false) => new(reason, close, Task.CompletedTask);
    }

    /// <summary>
    /// Checks one PUBLISH (topic, size, <c>iot:Publish</c>, reserved topics) and forwards it to the
    /// event sink. What its PUBACK waits for is the sink's acceptance when <paramref name="holdAcknowledgement"/>,
    /// otherwise nothing, having waited here.
    /// </summary>
    async ValueTask<PublishOutcome> CheckPublishAsync(string clientId, System.Collections.IDictionary? sessionItems, MqttApplicationMessage message, bool holdAcknowledgement, CancellationToken cancellationToken)
    {
        var topic = message.Topic;
        if (string.IsNullOrEmpty(clientId))
        {
            return PublishOutcome.Accept; // published by the platform itself (API, lifecycle): routed, not forwarded back
        }
        if (!MqttTopic.IsValidTopicName(topic, out _) || message.Payload.Length > MaxPayloadBytes)
        {
            return PublishOutcome.Refused(MqttPubAckReasonCode.TopicNameInvalid);
        }
        var session = sessionItems is null ? null : BrokerSession.Of(sessionItems);
        if (!gatekeeper.MayPublish(clientId, topic, message.Retain))
        {
            // MQTT 5 gets PUBACK 0x87; MQTT 3.1.1 has no negative PUBACK, so AWS IoT Core closes the connection.
            metrics.Denied("publish");
            return PublishOutcome.Refused(MqttPubAckReasonCode.NotAuthorized, close: session?.ProtocolVersion is not MQTTnet.Formatter.MqttProtocolVersion.V500);
        }
        if (ReservedTopics.IsReserved(topic) && !forwarding.ShouldForward(topic))
        {
            // Reserved topics exist only as the contract lists them; devices cannot forge lifecycle events.
            return PublishOutcome.Refused(MqttPubAckReasonCode.NotAuthorized);
        }
        if (!pipeline.Enabled || !forwarding.ShouldForward(topic))
        {
            return PublishOutcome.Accept;
        }
        var brokerMessage = new BrokerMessage
        {
            Id = pipeline.NextMessageId(),
            Topic = topic,
            Payload = PayloadOf(message),
            Qos = (int)message.QualityOfServiceLevel,
            Retain = message.Retain,
            ClientId = clientId,
            Principal = session?.Principal,
            Timestamp = time.GetUtcNow().ToUnixTimeMilliseconds(),
        };
        if (message.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce)
        {
            pipeline.TryForward(brokerMessage);
            return PublishOutcome.Accept;
        }
        // The PUBACK waits for the sink: at-least-once from device to rule action.
        if (holdAcknowledgement)
        {
            return PublishOutcome.Accept with { Accepted = await pipeline.QueueAsync(brokerMessage, cancellationToken) };
        }
        await pipeline.ForwardAsync(brokerMessage, cancellationToken);
        return PublishOutcome.Accept;
    }

    /// <summary>
    /// The payload as an array of its own. A message the shortcut parsed already owns a fresh array
    /// of exactly its payload, which nothing writes to: the event takes that array. MQTTnet's receive
    /// loop may hand out a buffer it reuses, so its messages are copied.
    /// </summary>
    static byte[] PayloadOf(MqttApplicationMessage message)
        => OutboundGate.Current is { } connection && ReferenceEquals(connection.ShortcutMessage, message)
            && message.Payload.IsSingleSegment && MemoryMarshal.TryGetArray(message.Payload.First, out var owned)
            && owned.Offset == 0 && owned.Count == owned.Array!.Length
            ? owned.Array
            : message.Payload.ToArray();

    static void Refuse(InterceptingPublishEventArgs e, MqttPubAckReasonCode reason)
    {
        e.ProcessPublish = false;
        e.Response.ReasonCode = reason;
    }
}
