using IoTServerless.Core.Topics;

namespace IoTServerless.Core.Shadows;

/// <summary>The MQTT messages a shadow operation publishes: its answer, and for an update the delta and documents.</summary>
public static class ShadowNotifications
{
    /// <summary>
    /// The messages for <paramref name="result"/> of a request on <paramref name="request"/>, in the
    /// order AWS IoT publishes them (accepted or rejected, then delta, then documents). Answers and
    /// notifications go out at QoS 1: a device subscribed at QoS 1 gets them at least once.
    /// </summary>
    public static IEnumerable<OutboundMessage> For(ShadowTopic request, ShadowResult result)
    {
        yield return new OutboundMessage(result.Accepted ? request.Accepted() : request.Rejected(), result.Payload, Qos: 1);
        if (result.Delta is not null)
        {
            yield return new OutboundMessage(ShadowTopic.UpdateDelta(request.ThingName, request.ShadowName), result.Delta, Qos: 1);
        }
        if (result.Documents is not null)
        {
            yield return new OutboundMessage(ShadowTopic.UpdateDocuments(request.ThingName, request.ShadowName), result.Documents, Qos: 1);
        }
    }
}
