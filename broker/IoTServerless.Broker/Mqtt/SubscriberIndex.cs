using System.Collections;
using System.Collections.Concurrent;

namespace IoTServerless.Broker.Mqtt;

/// <summary>
/// Which MQTT sessions may have a subscription matching a topic, by topic filter: the broker's own
/// index of MQTTnet's subscriptions, kept from MQTTnet's subscribe, unsubscribe and session events.
/// MQTTnet's dispatch checks every session that has a subscription against every message (a fleet of
/// 100,000 devices that each subscribe to their shadow topics makes that 100,000 checks per reading);
/// with this index a message costs one lookup for the filters without wildcards and a walk of the
/// wildcard filters' tree, level by level, whatever the fleet's size.
/// </summary>
/// <remarks>
/// The index names candidates; MQTTnet's session still decides (<c>TryCheckSubscriptions</c>), so a
/// candidate whose subscription is gone costs one check and nothing else. What the index must never do
/// is miss a session MQTTnet would deliver to: it is updated after MQTTnet's subscription changes
/// (MQTTnet raises its events then), so the only gap is a message published while a SUBSCRIBE is being
/// handled, before its SUBACK, which MQTT lets a server deliver or not. Entries are kept per session
/// (its items dictionary), so the deletion of a session replaced by a clean start never removes the
/// new session's subscriptions. Lookups take no lock; changes are serialized.
/// </remarks>
public sealed class SubscriberIndex
{
    static readonly string[] None = [];

    // Filters without wildcards, by the topic they match: one lookup per message.
    readonly ConcurrentDictionary<string, string[]> _exact = new(StringComparer.Ordinal);
    // Filters with '+' or '#', level by level.
    readonly Node _wildcards = new();
    readonly Dictionary<string, Client> _clients = new(StringComparer.Ordinal);
    readonly Lock _changes = new();
    volatile int _wildcardFilters;

    /// <summary>Subscriptions indexed (filters times sessions).</summary>
    public int Count { get; private set; }

    /// <summary>
    /// The session <paramref name="sessionItems"/> of <paramref name="clientId"/> subscribed to
    /// <paramref name="filter"/>; false when it had that subscription already (a SUBSCRIBE may repeat one).
    /// </summary>
    public bool Subscribed(string clientId, IDictionary sessionItems, string filter)
    {
        lock (_changes)
        {
            var client = CurrentSession(clientId, sessionItems);
            if (!client.Filters.Add(filter))
            {
                return false;
            }
            Add(filter, clientId);
            return true;
        }
    }

    /// <summary>The session <paramref name="sessionItems"/> of <paramref name="clientId"/> unsubscribed from <paramref name="filter"/>.</summary>
    public void Unsubscribed(string clientId, IDictionary sessionItems, string filter)
    {
        lock (_changes)
        {
            if (_clients.TryGetValue(clientId, out var client) && ReferenceEquals(client.Items, sessionItems) && client.Filters.Remove(filter))
            {
                Remove(filter, clientId);
                if (client.Filters.Count == 0)
                {
                    _clients.Remove(clientId);
                }
            }
        }
    }

    /// <summary>
    /// <paramref name="clientId"/> connected with the session <paramref name="sessionItems"/>: the
    /// subscriptions of any other session of that id are gone (a clean start replaced it).
    /// </summary>
    public void Connected(string clientId, IDictionary sessionItems)
    {
        lock (_changes)
        {
            if (_clients.TryGetValue(clientId, out var client) && !ReferenceEquals(client.Items, sessionItems))
            {
                RemoveClient(clientId, client);
            }
        }
    }

    /// <summary>The session <paramref name="sessionItems"/> of <paramref name="clientId"/> was deleted, with its subscriptions.</summary>
    public void SessionDeleted(string clientId, IDictionary sessionItems)
    {
        lock (_changes)
        {
            if (_clients.TryGetValue(clientId, out var client) && ReferenceEquals(client.Items, sessionItems))
            {
                RemoveClient(clientId, client);
            }
        }
    }

    /// <summary>
    /// Fills <paramref name="candidates"/> with the client ids that have a filter matching
    /// <paramref name="topic"/>, each once (MQTTnet's session decides at what QoS, or whether at all).
    /// </summary>
    public void Match(string topic, List<string> candidates)
    {
        candidates.Clear();
        HashSet<string>? seen = null;
        if (_exact.TryGetValue(topic, out var exact))
        {
            AddDistinct(candidates, exact, ref seen);
        }
        if (_wildcardFilters > 0)
        {
            Walk(_wildcards, topic, 0, candidates, ref seen);
        }
    }

    static void Walk(Node node, string topic, int start, List<string> candidates, ref HashSet<string>? seen)
    {
        // '#' here matches this level and everything below it, including nothing ("a/#" matches "a").
        if (Volatile.Read(ref node.Rest) is { Length: > 0 } rest)
        {
            AddDistinct(candidates, rest, ref seen);
        }
        if (start > topic.Length)
        {
            if (Volatile.Read(ref node.Here) is { Length: > 0 } here)
            {
                AddDistinct(candidates, here, ref seen);
            }
            return;
        }
        var end = topic.IndexOf('/', start);
        if (end < 0)
        {
            end = topic.Length;
        }
        if (node.Children is { } children)
        {
            var level = children.GetAlternateLookup<ReadOnlySpan<char>>();
            if (level.TryGetValue(topic.AsSpan(start, end - start), out var child))
            {
                Walk(child, topic, end + 1, candidates, ref seen);
            }
        }
        if (Volatile.Read(ref node.AnyLevel) is { } any)
        {
            Walk(any, topic, end + 1, candidates, ref seen);
        }
    }

    /// <summary>
    /// Adds the ids not there yet. One filter's ids are distinct, so the first list goes in as it is;
    /// past a few hundred comparisons the ids seen go into a set.
    /// </summary>
    static void AddDistinct(List<string> candidates, string[] clientIds, ref HashSet<string>? seen)
    {
        if (candidates.Count == 0)
        {
            candidates.AddRange(clientIds);
            return;
        }
        if (seen is null && candidates.Count * clientIds.Length > 256)
        {
            seen = new HashSet<string>(candidates, StringComparer.Ordinal);
        }
        foreach (var clientId in clientIds)
        {
            if (seen?.Add(clientId) ?? !candidates.Contains(clientId))
            {
                candidates.Add(clientId);
            }
        }
    }

    Client CurrentSession(string clientId, IDictionary sessionItems)
    {
        if (_clients.TryGetValue(clientId, out var client))
        {
            if (ReferenceEquals(client.Items, sessionItems))
            {
                return client;
            }
            RemoveClient(clientId, client); // an earlier session of this id, replaced by a clean start
        }
        client = new Client(sessionItems);
        _clients[clientId] = client;
        return client;
    }

    void RemoveClient(string clientId, Client client)
    {
        _clients.Remove(clientId);
        foreach (var filter in client.Filters)
        {
            Remove(filter, clientId);
        }
    }

    void Add(string filter, string clientId)
    {
        Count++;
        if (!HasWildcard(filter))
        {
            _exact[filter] = _exact.TryGetValue(filter, out var ids) ? [.. ids, clientId] : [clientId];
            return;
        }
        var (node, slot) = Leaf(filter, create: true)!.Value;
        ref var ids2 = ref slot == Slot.Rest ? ref node.Rest : ref node.Here;
        Volatile.Write(ref ids2, ids2 is null ? [clientId] : [.. ids2, clientId]);
        _wildcardFilters++;
    }

    void Remove(string filter, string clientId)
    {
        Count--;
        if (!HasWildcard(filter))
        {
            if (_exact.TryGetValue(filter, out var ids))
            {
                var left = Without(ids, clientId);
                if (left.Length == 0)
                {
                    _exact.TryRemove(filter, out _);
                }
                else
                {
                    _exact[filter] = left;
                }
            }
            return;
        }
        _wildcardFilters--;
        if (Leaf(filter, create: false) is { } leaf)
        {
            ref var ids = ref leaf.Slot == Slot.Rest ? ref leaf.Node.Rest : ref leaf.Node.Here;
            Volatile.Write(ref ids, ids is null ? null : Without(ids, clientId));
        }
    }

    static string[] Without(string[] ids, string clientId)
    {
        var at = Array.IndexOf(ids, clientId);
        if (at < 0)
        {
            return ids;
        }
        if (ids.Length == 1)
        {
            return None;
        }
        var left = new string[ids.Length - 1];
        Array.Copy(ids, left, at);
        Array.Copy(ids, at + 1, left, at, ids.Length - at - 1);
        return left;
    }

    /// <summary>
    /// The node where <paramref name="filter"/> ends, and whether it ends in '#' there. Nodes are only
    /// ever added (a filter that comes and goes leaves an empty node), so a lookup walking the tree
    /// while it changes never loses its way.
    /// </summary>
    (Node Node, Slot Slot)? Leaf(string filter, bool create)
    {
        var node = _wildcards;
        foreach (var level in filter.Split('/'))
        {
            if (level == "#")
            {
                return (node, Slot.Rest);
            }
            Node? next;
            if (level == "+")
            {
                next = node.AnyLevel;
                if (next is null && create)
                {
                    Volatile.Write(ref node.AnyLevel, next = new Node());
                }
            }
            else
            {
                next = node.Children?.GetValueOrDefault(level);
                if (next is null && create)
                {
                    next = new Node();
                    // Sized for one child, serialized writers: most levels of a fleet's filters have one child,
                    // and the default (31 buckets, a lock per core) is several hundred bytes per device.
                    (node.Children ??= new ConcurrentDictionary<string, Node>(concurrencyLevel: 1, capacity: 1, StringComparer.Ordinal))[level] = next;
                }
            }
            if (next is null)
            {
                return null;
            }
            node = next;
        }
        return (node, Slot.Here);
    }

    static bool HasWildcard(string filter) => filter.AsSpan().IndexOfAny('+', '#') >= 0;

    enum Slot { Here, Rest }

    sealed class Node
    {
        public ConcurrentDictionary<string, Node>? Children; // set once, under the change lock
        public Node? AnyLevel; // '+'
        public string[]? Here; // filters that end at this node
        public string[]? Rest; // filters that end with '#' below this node's level
    }

    sealed class Client(IDictionary items)
    {
        public IDictionary Items { get; } = items;
        public HashSet<string> Filters { get; } = new(StringComparer.Ordinal);
    }
}
