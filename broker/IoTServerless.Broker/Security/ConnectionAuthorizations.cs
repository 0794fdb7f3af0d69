using System.Collections.Concurrent;
using IoTServerless.Core.Security;

namespace IoTServerless.Broker.Security;

/// <summary>
/// The authorization of every live connection, by client id: the hot-path checks (publish,
/// subscribe, each delivery) are a dictionary lookup and a compiled-policy match, never a storage read.
/// </summary>
public sealed class ConnectionAuthorizations
{
    readonly ConcurrentDictionary<string, DeviceAuthorization> _byClient = new(StringComparer.Ordinal);

    public int Count => _byClient.Count;

    public bool TryGet(string clientId, out DeviceAuthorization authorization) => _byClient.TryGetValue(clientId, out authorization!);

    public void Set(DeviceAuthorization authorization) => _byClient[authorization.ClientId] = authorization;

    /// <summary>Replaces the entry only if it is still <paramref name="expected"/> (a re-check raced a reconnect).</summary>
    public bool TryReplace(DeviceAuthorization expected, DeviceAuthorization updated) => _byClient.TryUpdate(expected.ClientId, updated, expected);

    public void Remove(string clientId) => _byClient.TryRemove(clientId, out _);

    public IReadOnlyList<DeviceAuthorization> Snapshot() => [.. _byClient.Values];
}
