using System.Buffers;
using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using MQTTnet;
using MQTTnet.Protocol;

namespace IoTServerless.Device;

/// <summary>
/// A device's MQTT 3.1.1 connection to the platform over mutual TLS (TLS 1.2/1.3, client certificate),
/// trusting only the configured CA for the server. Once connected, a lost connection is re-established
/// automatically (capped exponential backoff with jitter) and every subscription is sent again.
/// Subscription handlers run one message at a time; an exception in a handler is counted and reported
/// through <see cref="HandlerFailed"/>, never thrown into the client.
/// </summary>
public sealed class DeviceClient : IAsyncDisposable
{
    const int MaxFiltersPerSubscribe = 8;
    static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    readonly DeviceConnectionOptions _options;
    readonly X509Certificate2 _clientCertificate;
    readonly X509Certificate2Collection _trustedCas;
    readonly IMqttClient _mqtt;
    readonly MqttClientOptions _mqttOptions;
    readonly ConcurrentDictionary<string, Subscription> _subscriptions = new(StringComparer.Ordinal);
    readonly SemaphoreSlim _connectLock = new(1, 1);
    readonly CancellationTokenSource _lifetime = new();
    volatile bool _stopped = true;
    volatile bool _disposed;
    int _reconnecting;
    Task _reconnectTask = Task.CompletedTask;
    long _connections;
    long _connectFailures;
    long _disconnections;
    long _messagesPublished;
    long _publishFailures;
    long _messagesReceived;
    long _handlerFailures;

    public DeviceClient(DeviceConnectionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Host);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.ClientId);
        _options = options;
        _clientCertificate = LoadClientCertificate(options.CertificatePath, options.KeyPath);
        _trustedCas = [];
        _trustedCas.ImportFromPemFile(options.CaCertificatePath);
        if (_trustedCas.Count == 0)
        {
            throw new ArgumentException($"No certificate found in {options.CaCertificatePath}.", nameof(options));
        }

        _mqttOptions = new MqttClientOptionsBuilder()
            .WithTcpServer(options.Host, options.Port)
            .WithClientId(options.ClientId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V311)
            .WithCleanSession(options.CleanSession)
            .WithKeepAlivePeriod(options.KeepAlive)
            .WithTimeout(options.Timeout)
            .WithTlsOptions(o => o
                .UseTls()
                .WithClientCertificates([_clientCertificate])
                .WithCertificateValidationHandler(args => ValidateServerCertificate(args.Certificate, args.Chain, args.SslPolicyErrors))
                .WithSslProtocols(SslProtocols.Tls12 | SslProtocols.Tls13)
                .WithTargetHost(options.Host))
            .Build();

        _mqtt = new MqttClientFactory().CreateMqttClient();
        _mqtt.ApplicationMessageReceivedAsync += OnApplicationMessageReceivedAsync;
        _mqtt.DisconnectedAsync += OnDisconnectedAsync;
    }

    /// <summary>After every successful connect or reconnect (subscriptions already re-sent).</summary>
    public event EventHandler<DeviceConnectedEventArgs>? Connected;

    /// <summary>When a connection that was up is lost or closed.</summary>
    public event EventHandler<DeviceDisconnectedEventArgs>? Disconnected;

    /// <summary>When a connect or reconnect attempt fails.</summary>
    public event EventHandler<DeviceConnectFailedEventArgs>? ConnectFailed;

    /// <summary>When a subscription handler throws.</summary>
    public event EventHandler<DeviceHandlerFailedEventArgs>? HandlerFailed;

    /// <summary>When the broker refuses a subscription re-sent after a reconnect.</summary>
    public event EventHandler<DeviceSubscriptionRejectedEventArgs>? SubscriptionRejected;

    public string ClientId => _options.ClientId;

    public bool IsConnected => _mqtt.IsConnected;

    /// <summary>Successful connects, the first one included.</summary>
    public long Connections => Interlocked.Read(ref _connections);

    public long ConnectFailures => Interlocked.Read(ref _connectFailures);

    /// <summary>Connections that were up and went down (lost or closed).</summary>
    public long Disconnections => Interlocked.Read(ref _disconnections);

    public long MessagesPublished => Interlocked.Read(ref _messagesPublished);

    public long PublishFailures => Interlocked.Read(ref _publishFailures);

    public long MessagesReceived => Interlocked.Read(ref _messagesReceived);

    public long HandlerFailures => Interlocked.Read(ref _handlerFailures);

    /// <summary>
    /// Connects once and throws when that fails (TLS, refused CONNECT, timeout). Once connected, the
    /// client reconnects on its own whenever the connection is lost, until disconnected or disposed.
    /// </summary>
    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _stopped = false;
        try
        {
            await ConnectCoreAsync(isReconnect: false, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Interlocked.Increment(ref _connectFailures);
            Raise(ConnectFailed, new DeviceConnectFailedEventArgs(ex, 0));
            throw;
        }
    }

    /// <summary>
    /// Keeps trying to connect (capped exponential backoff with jitter) until connected; only
    /// cancellation or disposal ends it early. Failed attempts are reported through <see cref="ConnectFailed"/>.
    /// </summary>
    public async Task ConnectWithRetryAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _stopped = false;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _lifetime.Token);
        for (var attempt = 0; ; attempt++)
        {
            if (attempt > 0)
            {
                await Task.Delay(NextDelay(attempt - 1), linked.Token);
            }
            try
            {
                await ConnectCoreAsync(isReconnect: false, linked.Token);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Interlocked.Increment(ref _connectFailures);
                Raise(ConnectFailed, new DeviceConnectFailedEventArgs(ex, attempt));
            }
        }
    }

    /// <summary>Closes the connection cleanly and stops reconnecting.</summary>
    public async Task DisconnectAsync(CancellationToken cancellationToken)
    {
        _stopped = true;
        if (_mqtt.IsConnected)
        {
            var disconnect = new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build();
            await _mqtt.DisconnectAsync(disconnect, cancellationToken);
        }
    }

    /// <summary>Publishes and, for QoS 1, waits for the PUBACK. Throws when not connected or refused.</summary>
    public async Task PublishAsync(string topic, ReadOnlyMemory<byte> payload, QualityOfService qos, bool retain, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(new ReadOnlySequence<byte>(payload))
            .WithQualityOfServiceLevel(ToMqtt(qos))
            .WithRetainFlag(retain)
            .Build();
        try
        {
            var result = await _mqtt.PublishAsync(message, cancellationToken);
            if (!result.IsSuccess)
            {
                throw new DeviceClientException($"Publish to '{topic}' was refused: {result.ReasonCode} {result.ReasonString}");
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Interlocked.Increment(ref _publishFailures);
            throw;
        }
        Interlocked.Increment(ref _messagesPublished);
    }

    /// <summary>Publishes a UTF-8 text payload.</summary>
    public Task PublishAsync(string topic, string payload, QualityOfService qos, bool retain, CancellationToken cancellationToken)
        => PublishAsync(topic, Encoding.UTF8.GetBytes(payload), qos, retain, cancellationToken);

    /// <summary>
    /// Registers <paramref name="handler"/> for messages matching <paramref name="topicFilter"/> and
    /// subscribes now when connected (otherwise at the next connect). The subscription is sent again
    /// after every reconnect. Throws <see cref="DeviceClientException"/> when the broker refuses it
    /// (the registration is then removed). Subscribing again to the same filter replaces the handler.
    /// </summary>
    public async Task SubscribeAsync(string topicFilter, QualityOfService qos, Func<string, ReadOnlyMemory<byte>, Task> handler, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(topicFilter);
        ArgumentNullException.ThrowIfNull(handler);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var subscription = new Subscription(topicFilter, qos, handler);
        _subscriptions[topicFilter] = subscription;
        if (!_mqtt.IsConnected)
        {
            return;
        }
        var rejected = await SendSubscribeAsync([subscription], cancellationToken);
        if (rejected.Count > 0)
        {
            _subscriptions.TryRemove(new KeyValuePair<string, Subscription>(topicFilter, subscription));
            throw new DeviceClientException($"Subscription to '{topicFilter}' was refused: {rejected[0].Reason}");
        }
    }

    /// <summary>Removes the handler and unsubscribes when connected.</summary>
    public async Task UnsubscribeAsync(string topicFilter, CancellationToken cancellationToken)
    {
        if (_subscriptions.TryRemove(topicFilter, out _) && _mqtt.IsConnected)
        {
            await _mqtt.UnsubscribeAsync(new MqttClientUnsubscribeOptionsBuilder().WithTopicFilter(topicFilter).Build(), cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _stopped = true;
        await _lifetime.CancelAsync();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await DisconnectAsync(timeout.Token);
        }
        catch (Exception)
        {
            // Best effort: the connection may already be gone.
        }
        try
        {
            await _reconnectTask;
        }
        catch (Exception)
        {
            // The loop ends with cancellation.
        }
        _mqtt.ApplicationMessageReceivedAsync -= OnApplicationMessageReceivedAsync;
        _mqtt.DisconnectedAsync -= OnDisconnectedAsync;
        _mqtt.Dispose();
        _clientCertificate.Dispose();
        foreach (var ca in _trustedCas)
        {
            ca.Dispose();
        }
        _connectLock.Dispose();
        _lifetime.Dispose();
    }

    async Task ConnectCoreAsync(bool isReconnect, CancellationToken cancellationToken)
    {
        bool sessionPresent;
        await _connectLock.WaitAsync(cancellationToken);
        try
        {
            if (_mqtt.IsConnected)
            {
                return;
            }
            var result = await _mqtt.ConnectAsync(_mqttOptions, cancellationToken);
            if (result.ResultCode != MqttClientConnectResultCode.Success)
            {
                throw new DeviceClientException($"CONNECT was refused: {result.ResultCode} {result.ReasonString}");
            }
            sessionPresent = result.IsSessionPresent;
            Interlocked.Increment(ref _connections);
            var rejected = await SendSubscribeAsync(_subscriptions.Values.ToList(), cancellationToken);
            foreach (var (filter, reason) in rejected)
            {
                Raise(SubscriptionRejected, new DeviceSubscriptionRejectedEventArgs(filter, reason));
            }
        }
        finally
        {
            _connectLock.Release();
        }
        Raise(Connected, new DeviceConnectedEventArgs(isReconnect, sessionPresent));
    }

    /// <summary>Sends the subscriptions (at most 8 filters per SUBSCRIBE); returns the refused ones.</summary>
    async Task<List<(string Filter, string Reason)>> SendSubscribeAsync(IReadOnlyList<Subscription> subscriptions, CancellationToken cancellationToken)
    {
        var rejected = new List<(string, string)>();
        foreach (var chunk in subscriptions.Chunk(MaxFiltersPerSubscribe))
        {
            var builder = new MqttClientSubscribeOptionsBuilder();
            foreach (var subscription in chunk)
            {
                builder.WithTopicFilter(f => f.WithTopic(subscription.Filter).WithQualityOfServiceLevel(ToMqtt(subscription.Qos)));
            }
            var result = await _mqtt.SubscribeAsync(builder.Build(), cancellationToken);
            foreach (var item in result.Items)
            {
                if (item.ResultCode > MqttClientSubscribeResultCode.GrantedQoS2)
                {
                    rejected.Add((item.TopicFilter.Topic, item.ResultCode.ToString()));
                }
            }
        }
        return rejected;
    }

    Task OnDisconnectedAsync(MqttClientDisconnectedEventArgs e)
    {
        // Failed connect attempts are raised here too; they are reported by the connect paths.
        if (!e.ClientWasConnected)
        {
            return Task.CompletedTask;
        }
        Interlocked.Increment(ref _disconnections);
        var willReconnect = _options.AutoReconnect && !_stopped && !_disposed;
        Raise(Disconnected, new DeviceDisconnectedEventArgs(e.Reason.ToString(), e.Exception, willReconnect));
        if (willReconnect)
        {
            StartReconnecting();
        }
        return Task.CompletedTask;
    }

    void StartReconnecting()
    {
        if (Interlocked.CompareExchange(ref _reconnecting, 1, 0) != 0)
        {
            return;
        }
        _reconnectTask = Task.Run(() => ReconnectLoopAsync(_lifetime.Token));
    }

    async Task ReconnectLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            for (var attempt = 0; !_stopped && !cancellationToken.IsCancellationRequested; attempt++)
            {
                await Task.Delay(NextDelay(attempt), cancellationToken);
                if (_stopped)
                {
                    return;
                }
                try
                {
                    await ConnectCoreAsync(isReconnect: true, cancellationToken);
                    return;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Interlocked.Increment(ref _connectFailures);
                    Raise(ConnectFailed, new DeviceConnectFailedEventArgs(ex, attempt));
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
        finally
        {
            Volatile.Write(ref _reconnecting, 0);
        }
        // A connection that dropped again while this loop was finishing would otherwise be missed.
        if (!_mqtt.IsConnected && !_stopped && !_disposed && _options.AutoReconnect)
        {
            StartReconnecting();
        }
    }

    async Task OnApplicationMessageReceivedAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        Interlocked.Increment(ref _messagesReceived);
        var topic = e.ApplicationMessage.Topic;
        // Copied: the receive buffer is not ours once this handler returns.
        ReadOnlyMemory<byte> payload = e.ApplicationMessage.Payload.ToArray();
        foreach (var subscription in _subscriptions.Values)
        {
            if (MqttTopicFilterComparer.Compare(topic, subscription.Filter) != MqttTopicFilterCompareResult.IsMatch)
            {
                continue;
            }
            try
            {
                await subscription.Handler(topic, payload);
            }
            catch (Exception ex)
            {
                Interlocked.Increment(ref _handlerFailures);
                Raise(HandlerFailed, new DeviceHandlerFailedEventArgs(topic, ex));
            }
        }
    }

    bool ValidateServerCertificate(X509Certificate? certificate, X509Chain? presentedChain, SslPolicyErrors errors)
    {
        // Host name (SAN) as SslStream checked it against the target host; the chain is ours to judge.
        if (certificate is null
            || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable)
            || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return false;
        }
        using var server = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_trustedCas);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ServerAuthentication);
        if (presentedChain is not null)
        {
            // Intermediates the server sent; only the custom roots can anchor the chain.
            foreach (var element in presentedChain.ChainElements.Skip(1))
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }
        return chain.Build(server);
    }

    TimeSpan NextDelay(int attempt)
        => ReconnectBackoff.GetDelay(attempt, _options.ReconnectInitialDelay, _options.ReconnectMaxDelay, Random.Shared);

    void Raise<T>(EventHandler<T>? handler, T args)
    {
        try
        {
            handler?.Invoke(this, args);
        }
        catch (Exception)
        {
            // A faulty event subscriber must not break the connection logic.
        }
    }

    static MqttQualityOfServiceLevel ToMqtt(QualityOfService qos) => qos switch
    {
        QualityOfService.AtMostOnce => MqttQualityOfServiceLevel.AtMostOnce,
        _ => MqttQualityOfServiceLevel.AtLeastOnce,
    };

    static X509Certificate2 LoadClientCertificate(string certificatePath, string keyPath)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        // Round-trip through PKCS#12: SslStream cannot use the ephemeral key of a PEM-loaded certificate on every OS.
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    sealed record Subscription(string Filter, QualityOfService Qos, Func<string, ReadOnlyMemory<byte>, Task> Handler);
}
