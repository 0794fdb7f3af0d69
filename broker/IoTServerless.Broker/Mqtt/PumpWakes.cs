namespace IoTServerless.Broker.Mqtt;

/// <summary>
/// Wake-ups of connection pumps requested while one inbound read is being handled on this thread
/// (<see cref="PublishShortcut"/>) wait until the read's packets are all dispatched (<see cref="Flush"/>).
/// A pump that got several deliveries from the read then runs at once, on this thread: they share a
/// TLS record and a socket write, and none waits for a thread-pool thread to wake up. Any other
/// wake-up (a lone delivery, a PUBACK) goes as it would have without the wait.
/// Every synchronous stretch that calls <see cref="Begin"/> must call <see cref="Flush"/> before it
/// gives up the thread: a wake-up left behind would stall its connection until the next one.
/// </summary>
internal static class PumpWakes
{
    [ThreadStatic] static List<OutboundGate>? t_deferred;
    [ThreadStatic] static bool t_collecting;
    [ThreadStatic] static bool t_running;

    /// <summary>A read is being handled on this thread: wake-ups wait for <see cref="Flush"/>.</summary>
    public static bool Collecting => t_collecting;

    /// <summary>From now on, wake-ups on this thread wait for <see cref="Flush"/>.</summary>
    public static void Begin() => t_collecting = true;

    /// <summary>Queues <paramref name="gate"/>'s wake-up when a read is being handled on this thread; false otherwise.</summary>
    public static bool TryDefer(OutboundGate gate)
    {
        if (!t_collecting)
        {
            return false;
        }
        (t_deferred ??= []).Add(gate);
        return true;
    }

    /// <summary>True while <see cref="Flush"/> wakes the pumps: they run on this thread at once.</summary>
    public static bool RunningDeferred => t_running;

    /// <summary>Wakes the pumps queued since <see cref="Begin"/>, each running here until its next wait.</summary>
    public static void Flush()
    {
        t_collecting = false;
        var deferred = t_deferred;
        if (deferred is null || deferred.Count == 0)
        {
            return;
        }
        try
        {
            // By index: a pump run here may not queue more (collecting is off), but it must not see a
            // list it is iterating change under it either.
            for (var i = 0; i < deferred.Count; i++)
            {
                var gate = deferred[i];
                // Several deliveries from this read: they make a batch, so it goes now, from here. A lone
                // one is woken as any other (MqttWriteCoalescing's burst scheduling), so that during a
                // burst of lone messages from many publishers the pump still collects them into few writes.
                t_running = gate.TakeDeliveredInRead() > 1;
                gate.WakePump?.Invoke();
            }
        }
        finally
        {
            t_running = false;
            deferred.Clear();
        }
    }
}
