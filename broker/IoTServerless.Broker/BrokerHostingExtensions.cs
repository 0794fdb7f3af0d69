using System.Net;
using System.Security.Authentication;
using Azure.Identity;
using Azure.Messaging.EventGrid;
using IoTServerless.Broker.Api;
using IoTServerless.Broker.Mqtt;
using IoTServerless.Broker.Sinks;
using IoTServerless.Core;
using IoTServerless.Core.Registry;
using IoTServerless.Core.Rules;
using IoTServerless.Core.Security;
using IoTServerless.Core.Security.Certificates;
using IoTServerless.Core.Security.Changes;
using IoTServerless.Core.Security.Policies;
using IoTServerless.Core.Storage;
using IoTServerless.Broker.Security;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Options;
using MQTTnet.AspNetCore;
using MQTTnet.Server;
using OpenTelemetry.Metrics;

namespace IoTServerless.Broker;

public static class BrokerHostingExtensions
{
    const string InlineSocketCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>Everything the broker needs: options, Kestrel listeners (MQTT/TLS, MQTT/WSS, internal API), MQTT server, event pipeline.</summary>
    public static WebApplicationBuilder AddBroker(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<BrokerOptions>()
            .Bind(builder.Configuration.GetSection(BrokerOptions.SectionName))
            .ValidateDataAnnotations()
            .Validate(o => o.Events.Sink != EventSinkKind.Webhook || o.Events.WebhookUrl is not null, "Broker:Events:WebhookUrl is required for the Webhook sink.")
            .Validate(o => o.Events.Sink != EventSinkKind.EventGrid || o.Events.EventGridTopicEndpoint is not null, "Broker:Events:EventGridTopicEndpoint is required for the EventGrid sink.")
            .ValidateOnStart();
        services.AddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddSingleton<BrokerTraffic>();
        services.AddSingleton<OutboundGates>();
        services.AddSingleton<PublishShortcut>();
        services.AddSingleton<SubscriberIndex>();
        services.AddSingleton(sp => new RetainedMessages(sp.GetRequiredService<IOptions<BrokerOptions>>().Value.Mqtt.MaxRetainedMessages));
        services.AddSingleton<SubscriberDispatch>();
        services.AddSingleton<BrokerMetrics>();
        // OpenTelemetry metrics: the broker's meter, Kestrel's (connections, TLS handshakes) and the
        // runtime's (GC collections and pause time, heap, thread pool), scraped in Prometheus text
        // format at /metrics on the internal API listener.
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(BrokerMetrics.MeterName, "Microsoft.AspNetCore.Server.Kestrel", "System.Runtime")
            .AddPrometheusExporter());
        services.AddSingleton<BrokerListeners>();
        services.AddSingleton<ClientCertificateValidator>();
        services.AddSingleton<ForwardingIndex>();
        services.AddSingleton<EventPipeline>();
        services.AddHostedService(sp => sp.GetRequiredService<EventPipeline>());
        services.AddSingleton<LifecycleEventPublisher>();
        services.AddSingleton<MqttEventHandlers>();
        services.AddSingleton<ConnectionAuthorizations>();
        services.AddSingleton<DeviceGatekeeper>();
        AddEventSink(builder);
        AddAuthorization(builder);
        AddRuleFilters(builder);

        // MQTTnet drops what exceeds a session's queue, after PUBACK. Connected clients never get near
        // it (the outbound gate holds publishers back at MaxBacklogMessages); it bounds offline sessions.
        var mqtt = builder.Configuration.GetSection($"{BrokerOptions.SectionName}:Mqtt").Get<MqttListenerOptions>() ?? new MqttListenerOptions();
        var serverOptions = new MqttServerOptionsBuilder()
            .WithoutDefaultEndpoint()
            .WithMaxPendingMessagesPerClient(mqtt.MaxQueuedMessagesPerSession)
            .WithPersistentSessions()
            .WithDefaultCommunicationTimeout(TimeSpan.FromSeconds(10))
            .Build();
        // Each connection's packet encoder starts small and grows to the largest packet it sends; past
        // 4 KB it shrinks back after that packet. MQTTnet's default keeps 4 KB, and up to 64 KB, per connection.
        serverOptions.WriterBufferSize = 256;
        serverOptions.WriterBufferSizeMax = 4096;
        serverOptions.KeepAliveOptions.MonitorInterval = TimeSpan.FromMilliseconds(mqtt.KeepAliveCheckIntervalMilliseconds);
        services.AddHostedMqttServer(serverOptions);
        services.AddSingleton<MqttTransportConnectionHandler>(); // MQTT/TLS and MQTT over WebSockets
        services.AddSingleton<IMqttServerAdapter>(sp => sp.GetRequiredService<MqttTransportConnectionHandler>());
        // The MQTT/TLS listener (unless Kestrel carries it): started after the MQTT server, so the first
        // connection it accepts has a server to go to; stopped before it, so no new ones arrive meanwhile.
        // The MQTT/TLS listener, unless Kestrel carries it: started after the MQTT server, so the first
        // connection it accepts has a server to go to; stopped before it, so none arrives while it stops.
        if (mqtt.Transport == MqttTransportKind.Socket)
        {
            services.AddSingleton<MqttTlsListener>();
            services.AddHostedService(sp => sp.GetRequiredService<MqttTlsListener>());
        }
        services.AddConnections();
        services.AddProblemDetails();
        services.AddHealthChecks();

        builder.WebHost.UseKestrel(kestrel => kestrel.AddServerHeader = false);
        if (builder.Configuration.GetValue($"{BrokerOptions.SectionName}:Mqtt:InlineSocketScheduling", true))
        {
            builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = true);
            // And the socket's completion itself runs on the epoll thread (one per core then), not as a
            // thread-pool work item. .NET reads this variable once, when the first socket starts async
            // I/O; nothing has yet in the broker's own process (in a test host it may be too late, harmlessly).
            if (Environment.GetEnvironmentVariable(InlineSocketCompletions) is null)
            {
                Environment.SetEnvironmentVariable(InlineSocketCompletions, "1");
            }
        }
        builder.WebHost.ConfigureKestrel(ConfigureListeners);
        return builder;
    }

    /// <summary>
    /// With authorization on (the default), the broker reads the registry, certificates and policies
    /// from Table storage and follows the identity change feed.
    /// </summary>
    static void AddAuthorization(WebApplicationBuilder builder)
    {
        var enabled = builder.Configuration.GetValue($"{BrokerOptions.SectionName}:Authorization:Enabled", true);
        if (!enabled)
        {
            return;
        }
        var services = builder.Services;
        AddTableStorage(builder);
        services.AddOptions<PlatformOptions>().Bind(builder.Configuration.GetSection(PlatformOptions.SectionName));
        services.AddSingleton<CertificateStore>();
        services.AddSingleton<ThingPrincipalStore>();
        services.AddSingleton<ThingStore>();
        services.AddSingleton<ThingGroupStore>();
        services.AddPolicies();
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<DeviceDirectory>(sp,
            TimeSpan.FromSeconds(sp.GetRequiredService<IOptions<BrokerOptions>>().Value.Authorization.CacheSeconds)));
        services.AddSingleton<DeviceAuthorizationResolver>();
        services.AddSingleton<JustInTimeRegistration>();
        services.AddSingleton<IdentityChangeWatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<IdentityChangeWatcher>());
    }

    static void AddTableStorage(WebApplicationBuilder builder)
    {
        if (builder.Services.Any(d => d.ServiceType == typeof(TableClientProvider)))
        {
            return;
        }
        builder.Services.AddOptions<TableStorageOptions>().Bind(builder.Configuration.GetSection(TableStorageOptions.SectionName));
        builder.Services.AddSingleton<TableClientProvider>();
    }

    /// <summary>
    /// When Table storage is configured (and <c>Broker:Events:RuleFilters</c> is not off), the broker
    /// forwards what the enabled rules' FROM filters match, read from the rules table by <see cref="RuleFilterWatcher"/>.
    /// </summary>
    static void AddRuleFilters(WebApplicationBuilder builder)
    {
        var storage = builder.Configuration.GetSection(TableStorageOptions.SectionName).Get<TableStorageOptions>();
        var enabled = builder.Configuration.GetValue($"{BrokerOptions.SectionName}:Events:RuleFilters", true);
        if (!enabled || storage is null || string.IsNullOrEmpty(storage.ConnectionString) && storage.TableServiceUri is null)
        {
            return;
        }
        AddTableStorage(builder);
        builder.Services.AddRuleStore(builder.Configuration);
        builder.Services.AddSingleton<RuleFilterWatcher>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<RuleFilterWatcher>());
    }

    static void AddEventSink(WebApplicationBuilder builder)
    {
        var events = builder.Configuration.GetSection(BrokerOptions.SectionName).Get<BrokerOptions>()?.Events ?? new EventOptions();
        switch (events.Sink)
        {
            case EventSinkKind.EventGrid:
                builder.Services.AddSingleton(sp =>
                {
                    var o = sp.GetRequiredService<IOptions<BrokerOptions>>().Value.Events;
                    var credential = new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = string.IsNullOrEmpty(o.ManagedIdentityClientId) ? null : o.ManagedIdentityClientId });
                    return new EventGridPublisherClient(o.EventGridTopicEndpoint!, credential);
                });
                builder.Services.AddSingleton<IEventSink, EventGridEventSink>();
                break;
            case EventSinkKind.None:
                builder.Services.AddSingleton<IEventSink, NullEventSink>();
                break;
            default:
                builder.Services.AddHttpClient<IEventSink, WebhookEventSink>(http => http.Timeout = TimeSpan.FromSeconds(30));
                break;
        }
    }

    static void ConfigureListeners(WebHostBuilderContext context, KestrelServerOptions kestrel)
    {
        var sp = kestrel.ApplicationServices;
        var options = sp.GetRequiredService<IOptions<BrokerOptions>>().Value;
        var listeners = sp.GetRequiredService<BrokerListeners>();
        var validator = sp.GetRequiredService<ClientCertificateValidator>();
        var serverCertificate = ServerCertificate.Load(options.Tls);

        HttpsConnectionAdapterOptions Tls() => new()
        {
            ServerCertificate = serverCertificate,
            ClientCertificateMode = ClientCertificateMode.RequireCertificate,
            ClientCertificateValidation = validator.ValidateHandshake,
            // The handshake builds the device's chain once, against the configured CAs only.
            OnAuthenticate = (_, ssl) => ssl.CertificateChainPolicy = validator.HandshakeChainPolicy(),
            CheckCertificateRevocation = false,
            SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            HandshakeTimeout = TimeSpan.FromMilliseconds(options.Mqtt.HandshakeTimeoutMilliseconds),
        };

        if (options.Mqtt.Transport == MqttTransportKind.Kestrel)
        {
            kestrel.Listen(IPAddress.Parse(options.Mqtt.BindAddress), options.Mqtt.Port, listen =>
            {
                listeners.Mqtt = listen;
                listen.Protocols = HttpProtocols.None; // raw MQTT: no ALPN is selected, so any offered ALPN (x-amzn-mqtt-ca) is fine
                listen.UseHttps(Tls());
                listen.UseOpenSslIdleBufferRelease();
                listen.UseMqttConnection(sp, options);
            });
        }
        if (options.WebSockets.Enabled)
        {
            kestrel.Listen(IPAddress.Parse(options.WebSockets.BindAddress), options.WebSockets.Port, listen =>
            {
                listeners.WebSockets = listen;
                listen.Protocols = HttpProtocols.Http1;
                listen.UseHttps(Tls());
            });
        }
        if (options.WebSockets.Forwarded.Enabled)
        {
            kestrel.Listen(IPAddress.Parse(options.WebSockets.Forwarded.BindAddress), options.WebSockets.Forwarded.Port, listen =>
            {
                listeners.ForwardedWebSockets = listen;
                listen.Protocols = HttpProtocols.Http1;
            });
        }
        kestrel.Listen(IPAddress.Parse(options.Api.BindAddress), options.Api.Port, listen =>
        {
            listeners.Api = listen;
            listen.Protocols = HttpProtocols.Http1AndHttp2;
        });
    }

    /// <summary>
    /// What runs on an MQTT/TLS connection once the handshake is done, on either transport: the frame
    /// guard, write coalescing (with the QoS 0/1 shortcut) and MQTTnet's server.
    /// </summary>
    internal static IConnectionBuilder UseMqttConnection(this IConnectionBuilder connection, IServiceProvider sp, BrokerOptions options)
    {
        var traffic = sp.GetRequiredService<BrokerTraffic>();
        connection.UseMqttFrameGuard(options.Mqtt.MaxPacketBytes, traffic);
        if (options.Mqtt.CoalesceWrites)
        {
            connection.UseMqttWriteCoalescing(options.Mqtt.MaxBufferedOutboundBytes, options.Mqtt.MaxBacklogMessages, traffic, sp.GetRequiredService<OutboundGates>(),
                options.Mqtt.DirectQos0 ? sp.GetRequiredService<PublishShortcut>() : null, sp.GetRequiredService<TimeProvider>());
        }
        return connection.UseConnectionHandler<MqttTransportConnectionHandler>();
    }

    /// <summary>The broker's endpoints: MQTT over WebSockets on the WSS listener; API and health on the API listener.</summary>
    public static WebApplication MapBroker(this WebApplication app)
    {
        var listeners = app.Services.GetRequiredService<BrokerListeners>();
        var wsPath = app.Services.GetRequiredService<IOptions<BrokerOptions>>().Value.WebSockets.Path;
        app.Use((context, next) =>
        {
            var onApi = context.Connection.LocalPort == listeners.ApiPort;
            var wantsMqtt = context.Request.Path.StartsWithSegments(wsPath);
            if (onApi == wantsMqtt)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }
            return next(context);
        });
        app.UseMiddleware<ForwardedClientCertificateMiddleware>();
        app.UseWebSockets();
        app.MapConnectionHandler<MqttTransportConnectionHandler>(wsPath, ws => ws.WebSockets.SubProtocolSelector = MqttSubProtocolSelector.SelectSubProtocol);
        app.MapInternalApi();
        app.MapHealthChecks("/healthz");
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.UseMqttServer(server => app.Services.GetRequiredService<MqttEventHandlers>().Attach(server, app.Services.GetService<IdentityChangeWatcher>()));
        return app;
    }
}
