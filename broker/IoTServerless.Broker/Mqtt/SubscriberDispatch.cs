using IoTServerless.Broker.Security;
using IoTServerless.Broker.Sinks;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;
using MQTTnet.Server.Internal;

namespace IoTServerless.Broker.Mqtt;

/// <summary>
/// Delivers a message to the sessions the <see cref="SubscriberIndex"/> names, without MQTTnet's
/// dispatch (which checks every session that has a subscription against every message). Used for
/// what devices publish (<see cref="MqttEventHandlers.TryDispatchDirect"/>, after the publish checks)
/// and for what the platform publishes (<see cref="PublishAsync"/>: lifecycle events, the internal
/// API). It can when every session that may receive it is an MQTT 3.1.x connection on this broker;
/// an MQTT 5 client's subscription options and an offline persistent session's queue are MQTTnet's to
/// handle, so such a message goes to MQTTnet. A retained message is kept (<see cref="RetainedMessages"/>)
/// and delivered live.
/// </summary>
public sealed class SubscriberDispatch(
    SubscriberIndex subscribers,
    OutboundGates gates,
    PublishShortcut shortcut,
    RetainedMessages retained,
    DeviceGatekeeper gatekeeper,
    IOptions<BrokerOptions> options,
    BrokerMetrics metrics,
    BrokerTraffic traffic,
    TimeProvider time,
    ILogger<SubscriberDispatch> logger)
{
    readonly bool _enabled = options.Value.Mqtt.DirectQos0;
    readonly bool _qos1 = options.Value.Mqtt.DirectQos0 && options.Value.Mqtt.DirectQos1;

    [ThreadStatic] static List<string>? t_candidates;

    /// <summary>A session that may receive a message: its client id, its connection's gate, MQTTnet's client.</summary>
    internal readonly record struct Receiver(string ClientId, OutboundGate Gate, MqttConnectedClient Client);

    /// <summary>
    /// The connections that may receive <paramref name="message"/> (from a device, or the platform's
    /// own when <paramref name="platform"/>); false when this dispatch cannot deliver it (see the
    /// class) and MQTTnet must.
    /// </summary>
    internal bool TryCollect(MqttApplicationMessage message, bool platform, out Receiver[] receivers)
    {
        receivers = [];
        if (!_enabled || message.Retain && !shortcut.HasSessions || message.QualityOfServiceLevel > MqttQualityOfServiceLevel.AtLeastOnce
            || message.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtLeastOnce && !_qos1)
        {
            return false;
        }
        var candidates = t_candidates ??= [];
        subscribers.Match(message.Topic, candidates);
        if (candidates.Count > 1)
        {
            receivers = new Receiver[candidates.Count];
        }
        for (var i = 0; i < candidates.Count; i++)
        {
            if (!gates.TryGet(candidates[i], out var gate) || !gate.IsMqtt3 || shortcut.ClientOf(gate, remember: false) is not { } client)
            {
                candidates.Clear();
                receivers = [];
                return false;
            }
            if (candidates.Count == 1)
            {
                receivers = gate.AsSoleReceiver(candidates[0], client); // one subscriber (the usual case): no array per message
            }
            else
            {
                receivers[i] = new Receiver(candidates[i], gate, client);
            }
        }
        candidates.Clear();
        traffic.DispatchDirect(platform);
        return true;
    }

    /// <summary>
    /// Publishes a message of the platform's own (no sender, no publish checks): to the sessions the
    /// index names when it can, otherwise through MQTTnet (<see cref="MqttServer.InjectApplicationMessage"/>).
    /// </summary>
    public Task PublishAsync(MqttServer server, MqttApplicationMessage message, CancellationToken cancellationToken)
    {
        if (!TryCollect(message, platform: true, out var receivers))
        {
            return server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message), cancellationToken);
        }
        var delivered = DeliverAsync(string.Empty, receivers, Kept(message));
        return delivered.IsCompletedSuccessfully ? Task.CompletedTask : delivered.AsTask();
    }

    /// <summary>
    /// <paramref name="message"/>, once it passed the publish checks, kept first when it is retained.
    /// Delivered as it is: every delivery from here clears the retain flag (a live message).
    /// </summary>
    internal MqttApplicationMessage Kept(MqttApplicationMessage message)
    {
        if (message.Retain)
        {
            retained.Retain(message);
        }
        return message;
    }

    /// <summary>Delivers <paramref name="message"/> to each of <paramref name="receivers"/> in turn (<see cref="DeliverAsync(string, Receiver, MqttApplicationMessage, ulong)"/>).</summary>
    internal async ValueTask DeliverAsync(string senderId, Receiver[] receivers, MqttApplicationMessage message)
    {
        if (receivers.Length == 0)
        {
            return;
        }
        MqttTopicHash.Calculate(message.Topic, out var topicHash, out _, out _);
        foreach (var receiver in receivers)
        {
            var delivered = DeliverAsync(senderId, receiver, message, topicHash);
            if (!delivered.IsCompletedSuccessfully)
            {
                await delivered; // back-pressure: the publisher waits
            }
        }
    }

    /// <summary>
    /// One delivery, as MQTTnet's dispatch and <see cref="MqttEventHandlers"/>' enqueue interceptor
    /// make it: at the QoS the receiver's session grants (MQTTnet's own <c>TryCheckSubscriptions</c>;
    /// not subscribed: nothing), if <c>iot:Receive</c> allows, straight to its pump when there is room,
    /// otherwise through its session's queue, waiting for room first (back-pressure).
    /// </summary>
    ValueTask DeliverAsync(string senderId, Receiver receiver, MqttApplicationMessage message, ulong topicHash)
    {
        try
        {
            var session = receiver.Client.Session;
            if (!session.TryCheckSubscriptions(message.Topic, topicHash, message.QualityOfServiceLevel, senderId, out var subscription) || !subscription.IsSubscribed)
            {
                return ValueTask.CompletedTask;
            }
            if (!gatekeeper.MayReceive(receiver.ClientId, message.Topic))
            {
                metrics.Denied("receive");
                return ValueTask.CompletedTask;
            }
            var gate = receiver.Gate;
            var qos = subscription.QualityOfServiceLevel;
            if (qos == MqttQualityOfServiceLevel.AtMostOnce)
            {
                if (gate.TryEnterDirect())
                {
                    gate.Deliver(PublishEncoder.EncodeQos0(message));
                    return ValueTask.CompletedTask;
                }
            }
            else if (Qos1Delivery.TryDeliverAt(gate, session, message))
            {
                return ValueTask.CompletedTask;
            }
            if (gate.TryEnter())
            {
                Qos1Delivery.Enqueue(session, message, qos);
                return ValueTask.CompletedTask;
            }
            return EnqueueWhenRoomAsync(receiver, message, qos);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Delivery to {ClientId} failed", receiver.ClientId);
            return ValueTask.CompletedTask;
        }
    }

    async ValueTask EnqueueWhenRoomAsync(Receiver receiver, MqttApplicationMessage message, MqttQualityOfServiceLevel qos)
    {
        var started = time.GetTimestamp();
        var entered = await receiver.Gate.EnterAsync(TimeSpan.FromMilliseconds(options.Value.Mqtt.BackPressureTimeoutMilliseconds));
        metrics.DeliveryWait.Record(time.GetElapsedTime(started).TotalMilliseconds);
        if (!entered)
        {
            if (qos == MqttQualityOfServiceLevel.AtMostOnce)
            {
                metrics.DeliveryDropped.Add(1);
                return;
            }
            receiver.Gate.Enter(); // a QoS 1 message is queued in the session even so
        }
        Qos1Delivery.Enqueue(receiver.Client.Session, message, qos);
    }
}
