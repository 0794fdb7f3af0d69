using System.Collections.Concurrent;
using System.Net;

namespace IoTServerless.Broker.Mqtt;

/// <summary>
/// One connection's outbound state for back-pressure: congested while its outbound buffer is full
/// (the socket is not keeping up), open otherwise. Publishers whose messages would be delivered to a
/// congested connection wait at the gate, so their own sockets are not read meanwhile: a slow
/// subscriber slows its publishers down instead of growing queues or losing messages.
/// </summary>
public sealed class OutboundGate(EndPoint? remoteEndPoint)
{
    TaskCompletionSource? _congested;

    public EndPoint? RemoteEndPoint { get; } = remoteEndPoint;

    /// <summary>The MQTT client id, once the connection was admitted.</summary>
    public string? ClientId { get; set; }

    public bool IsCongested => Volatile.Read(ref _congested) is not null;

    internal void Congested()
        => Interlocked.CompareExchange(ref _congested, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null);

    /// <summary>The buffer drained (or the connection closed): everyone waiting goes on.</summary>
    internal void Drained() => Interlocked.Exchange(ref _congested, null)?.TrySetResult();

    /// <summary>Waits until the connection drains; false if it is still congested after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout)
    {
        var congested = Volatile.Read(ref _congested);
        if (congested is null)
        {
            return true;
        }
        try
        {
            await congested.Task.WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }
}

/// <summary>The outbound gates of the live MQTT-over-TLS connections, by remote endpoint and by client id.</summary>
public sealed class OutboundGates
{
    readonly ConcurrentDictionary<EndPoint, OutboundGate> _byEndPoint = new();
    readonly ConcurrentDictionary<string, OutboundGate> _byClient = new(StringComparer.Ordinal);

    internal void Opened(OutboundGate gate)
    {
        if (gate.RemoteEndPoint is not null)
        {
            _byEndPoint[gate.RemoteEndPoint] = gate;
        }
    }

    internal void Closed(OutboundGate gate)
    {
        if (gate.RemoteEndPoint is not null)
        {
            _byEndPoint.TryRemove(new KeyValuePair<EndPoint, OutboundGate>(gate.RemoteEndPoint, gate));
        }
        if (gate.ClientId is { } clientId)
        {
            _byClient.TryRemove(new KeyValuePair<string, OutboundGate>(clientId, gate));
        }
        gate.Drained();
    }

    /// <summary>Names the connection from <paramref name="remoteEndPoint"/> by its client id (a takeover replaces the old one).</summary>
    public void Bind(EndPoint? remoteEndPoint, string clientId)
    {
        if (remoteEndPoint is not null && _byEndPoint.TryGetValue(remoteEndPoint, out var gate))
        {
            gate.ClientId = clientId;
            _byClient[clientId] = gate;
        }
    }

    public bool TryGet(string clientId, out OutboundGate gate) => _byClient.TryGetValue(clientId, out gate!);

    /// <summary>Connections whose outbound buffer is full right now (read when metrics are collected).</summary>
    public int CongestedCount => _byEndPoint.Values.Count(g => g.IsCongested);
}
