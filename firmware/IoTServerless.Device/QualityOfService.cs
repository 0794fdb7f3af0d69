namespace IoTServerless.Device;

/// <summary>The MQTT delivery levels the platform serves (QoS 2 is served as QoS 1, like AWS IoT Core).</summary>
public enum QualityOfService
{
    AtMostOnce = 0,
    AtLeastOnce = 1,
}
