using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using MQTTnet;

namespace IoTServerless.Broker.Mqtt;

/// <summary>
/// The broker's retained messages, one per topic, in a tree of topic levels: a SUBSCRIBE walks the
/// levels its filter names, so its cost follows what matches, not how many messages are retained.
/// </summary>
/// <remarks>
/// MQTTnet 5.2 keeps retained messages in one dictionary, copies all of them for every SUBSCRIBE and
/// compares each with each of its filters. With a retained message per device (a pump's desired state)
/// a fleet coming back after an outage pays fleet × fleet comparisons: 20,000 retained messages added
/// 2.3 ms of broker CPU to every device's subscription here (README "Broker performance"). So the
/// broker takes retained messages out of MQTTnet's hands: it keeps them here (<see cref="Retain"/>)
/// and delivers them live itself (<see cref="SubscriberDispatch"/>, which clears the retain flag of
/// every delivery), or lets MQTTnet dispatch a live copy with the flag cleared, which MQTTnet then does
/// not store (<see cref="RetainForLiveCopy"/>); a new subscription gets its matches from <see cref="Match"/>.
/// Lookups take no lock; changes are serialized.
/// </remarks>
public sealed class RetainedMessages(int maxTopics = int.MaxValue)
{
    readonly Node _root = new();
    readonly Lock _changes = new();
    // The live copy MQTTnet dispatches → the message as published: an MQTT 5 subscription with
    // Retain As Published gets the flag back (MqttEventHandlers).
    readonly ConditionalWeakTable<MqttApplicationMessage, MqttApplicationMessage> _published = new();
    int _count;
    long _refused;

    /// <summary>Topics with a retained message.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Retained messages not kept because <c>maxTopics</c> topics had one already.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>
    /// Keeps <paramref name="message"/> (retained, as published) as its topic's retained message, or
    /// clears that when its payload is empty (MQTT 3.1.1 §3.3.1.3). False when it was not kept: a new
    /// topic while <c>maxTopics</c> topics have a retained message (a bound on the memory that devices
    /// allowed <c>iot:RetainPublish</c> can fill; the message is still delivered live).
    /// </summary>
    public bool Retain(MqttApplicationMessage message)
    {
        var levels = message.Topic.Split('/');
        lock (_changes)
        {
            if (message.Payload.IsEmpty)
            {
                Clear(levels);
                return true;
            }
            if (_count >= maxTopics && Find(levels)?.Message is null)
            {
                Interlocked.Increment(ref _refused);
                return false;
            }
            var node = _root;
            foreach (var level in levels)
            {
                node = node.Child(level);
            }
            if (node.Message is null)
            {
                _count++;
            }
            // A payload of its own: MQTTnet's receive loop may reuse the buffer of the one it parsed.
            node.Message = Copy(message, new ReadOnlySequence<byte>(message.Payload.ToArray()), retain: true);
            return true;
        }
    }

    /// <summary>The node of the topic <paramref name="levels"/> name, if the tree has it.</summary>
    Node? Find(string[] levels)
    {
        var node = _root;
        foreach (var level in levels)
        {
            if (node.Children is not { } children || !children.TryGetValue(level, out node))
            {
                return null;
            }
        }
        return node;
    }

    /// <summary>
    /// Keeps <paramref name="message"/> (<see cref="Retain"/>) and returns the copy MQTTnet is to dispatch
    /// to current subscribers: the same message with the retain flag cleared, so MQTTnet stores nothing.
    /// </summary>
    public MqttApplicationMessage RetainForLiveCopy(MqttApplicationMessage message)
    {
        Retain(message);
        var live = Copy(message, message.Payload, retain: false);
        _published.AddOrUpdate(live, message);
        return live;
    }

    /// <summary>The message as published (retain flag set) when <paramref name="live"/> is the live copy of a retained one.</summary>
    public bool TryGetPublished(MqttApplicationMessage live, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MqttApplicationMessage? published)
        => _published.TryGetValue(live, out published);

    /// <summary>The retained messages whose topics match <paramref name="filter"/>, as MQTT matches them.</summary>
    public List<MqttApplicationMessage> Match(string filter)
    {
        var matches = new List<MqttApplicationMessage>();
        if (Count > 0)
        {
            Match(_root, filter.Split('/'), 0, matches);
        }
        return matches;
    }

    static void Match(Node node, string[] levels, int depth, List<MqttApplicationMessage> matches)
    {
        if (depth == levels.Length)
        {
            if (node.Message is { } message)
            {
                matches.Add(message);
            }
            return;
        }
        switch (levels[depth])
        {
            case "#":
                AddAll(node, depth, matches); // this level too: "a/#" matches "a"
                break;
            case "+" when node.Children is { } children:
                foreach (var (name, child) in children)
                {
                    if (depth > 0 || !name.StartsWith('$')) // a wildcard first level never matches "$aws/…" (MQTT 3.1.1 §4.7.2)
                    {
                        Match(child, levels, depth + 1, matches);
                    }
                }
                break;
            case "+":
                break;
            default:
                if (node.Children is { } named && named.TryGetValue(levels[depth], out var next))
                {
                    Match(next, levels, depth + 1, matches);
                }
                break;
        }
    }

    static void AddAll(Node node, int depth, List<MqttApplicationMessage> matches)
    {
        if (node.Message is { } message)
        {
            matches.Add(message);
        }
        if (node.Children is not { } children)
        {
            return;
        }
        foreach (var (name, child) in children)
        {
            if (depth > 0 || !name.StartsWith('$'))
            {
                AddAll(child, depth + 1, matches);
            }
        }
    }

    void Clear(string[] levels)
    {
        var path = new Node[levels.Length + 1];
        path[0] = _root;
        for (var i = 0; i < levels.Length; i++)
        {
            if (path[i].Children is not { } children || !children.TryGetValue(levels[i], out var next))
            {
                return;
            }
            path[i + 1] = next;
        }
        if (path[^1].Message is null)
        {
            return;
        }
        path[^1].Message = null;
        _count--;
        // Levels left with neither a message nor children go: a fleet's cleared topics leave no tree behind.
        for (var i = levels.Length; i > 0 && path[i].Message is null && path[i].Children is null or { IsEmpty: true }; i--)
        {
            path[i - 1].Children!.TryRemove(levels[i - 1], out _);
        }
    }

    static MqttApplicationMessage Copy(MqttApplicationMessage message, ReadOnlySequence<byte> payload, bool retain) => new()
    {
        Topic = message.Topic,
        Payload = payload,
        QualityOfServiceLevel = message.QualityOfServiceLevel,
        Retain = retain,
        ContentType = message.ContentType,
        CorrelationData = message.CorrelationData,
        MessageExpiryInterval = message.MessageExpiryInterval,
        PayloadFormatIndicator = message.PayloadFormatIndicator,
        ResponseTopic = message.ResponseTopic,
        UserProperties = message.UserProperties,
    };

    /// <summary>One topic level. Its children are made on first use and start small: most levels of a fleet's topics have one.</summary>
    sealed class Node
    {
        volatile ConcurrentDictionary<string, Node>? _children;
        public volatile MqttApplicationMessage? Message;

        public ConcurrentDictionary<string, Node>? Children => _children;

        /// <summary>The child named <paramref name="level"/>, added if missing (under the store's lock).</summary>
        public Node Child(string level)
        {
            var children = _children ??= new ConcurrentDictionary<string, Node>(concurrencyLevel: 1, capacity: 1, StringComparer.Ordinal);
            if (!children.TryGetValue(level, out var child))
            {
                child = new Node();
                children[level] = child;
            }
            return child;
        }
    }
}
