using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using IoTServerless.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace IoTServerless.Broker.Tests.Security;

/// <summary>
/// Enforcement over real TLS: devices provisioned through the function app's HTTP API (registry,
/// certificates, policies in Azurite), a broker with authorization on, real MQTT clients.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class AuthorizationTests(AzuriteFixture azurite) : IAsyncLifetime
{
    /// <summary>The least-privilege policy of the farm: a device connects as its thing, publishes its own data, hears its own commands.</summary>
    const string LeastPrivilege = """
        {"Version":"2012-10-17","Statement":[
          {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
          {"Effect":"Allow","Action":"iot:Publish","Resource":["arn:aws:iot:*:*:topic/farmA/sensor/${iot:Connection.Thing.ThingName}/data","arn:aws:iot:*:*:topic/farmA/pump/${iot:Connection.Thing.ThingName}/state"]},
          {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:*:*:topicfilter/farmA/pump/${iot:Connection.Thing.ThingName}/cmd"},
          {"Effect":"Allow","Action":"iot:Receive","Resource":"arn:aws:iot:*:*:topic/farmA/pump/${iot:Connection.Thing.ThingName}/cmd"}
        ]}
        """;

    readonly TestPki _pki = new();
    readonly string _policy = "farm-device-" + Guid.NewGuid().ToString("N")[..8];
    TestFunctionApp _app = null!;
    HttpClient _http = null!;
    TestBroker _broker = null!;

    public async Task InitializeAsync()
    {
        _app = await TestFunctionApp.StartAsync(azurite.ConnectionString);
        _http = _app.CreateClient();
        _broker = await TestBroker.StartAsync(_pki, new Dictionary<string, string?>
        {
            ["Broker:Authorization:Enabled"] = "true",
            ["Broker:Authorization:ChangePollMilliseconds"] = "250",
            ["Broker:Tls:ClientCaPath"] = null,
            ["Storage:ConnectionString"] = azurite.ConnectionString,
        });
        await CreatePolicyAsync(_policy, LeastPrivilege);
    }

    public async Task DisposeAsync()
    {
        await _broker.DisposeAsync();
        _http.Dispose();
        await _app.DisposeAsync();
        _pki.Dispose();
    }

    static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";

    static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    async Task SendOkAsync(HttpRequestMessage request)
    {
        using var response = await _http.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, $"{request.Method} {request.RequestUri}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    Task CreatePolicyAsync(string name, string document)
        => SendOkAsync(new HttpRequestMessage(HttpMethod.Post, $"api/policies/{name}") { Content = Json(new { policyDocument = document }) });

    /// <summary>Registers a thing and a certificate for it, attaches them and the policy; returns the certificate and its id.</summary>
    async Task<(System.Security.Cryptography.X509Certificates.X509Certificate2 Certificate, string CertificateId)> ProvisionAsync(string thing, string? policy = null, string status = "ACTIVE")
    {
        await SendOkAsync(new HttpRequestMessage(HttpMethod.Post, $"api/things/{thing}") { Content = Json(new { }) });
        var certificate = _pki.Device(thing);
        using var registered = await _http.PostAsync("api/certificate/register-no-ca", Json(new { certificatePem = certificate.ExportCertificatePem(), status }));
        Assert.True(registered.IsSuccessStatusCode, await registered.Content.ReadAsStringAsync());
        var json = await registered.Content.ReadFromJsonAsync<JsonElement>();
        var arn = json.GetProperty("certificateArn").GetString()!;
        await SendOkAsync(new HttpRequestMessage(HttpMethod.Put, $"api/things/{thing}/principals") { Headers = { { "x-amzn-principal", arn } } });
        await SendOkAsync(new HttpRequestMessage(HttpMethod.Put, $"api/target-policies/{policy ?? _policy}") { Content = Json(new { target = arn }) });
        return (certificate, json.GetProperty("certificateId").GetString()!);
    }

    async Task<IMqttClient> ConnectAsync(string clientId, System.Security.Cryptography.X509Certificates.X509Certificate2 certificate, MqttProtocolVersion version = MqttProtocolVersion.V500)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(TestMqtt.Options(clientId, _broker.MqttPort, certificate, _pki.Ca, version));
        return client;
    }

    async Task<MqttClientConnectResultCode> ConnectResultAsync(string clientId, System.Security.Cryptography.X509Certificates.X509Certificate2 certificate)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        try
        {
            var result = await client.ConnectAsync(TestMqtt.Options(clientId, _broker.MqttPort, certificate, _pki.Ca, MqttProtocolVersion.V500));
            return result.ResultCode;
        }
        catch (MQTTnet.Adapter.MqttConnectingFailedException ex) when (ex.Message.Contains(nameof(MqttClientConnectResultCode.NotAuthorized), StringComparison.Ordinal))
        {
            // MQTTnet 5 reports a refused CONNACK as an exception naming the reason code.
            return MqttClientConnectResultCode.NotAuthorized;
        }
    }

    /// <summary>MQTT 5 success codes are below 0x80 (NoMatchingSubscribers, 0x10, is a success).</summary>
    static void AssertAccepted(MqttClientPublishReasonCode code) => Assert.True((int)code < 0x80, $"publish refused: {code}");

    [Fact]
    public async Task LeastPrivilegeDevice_publishesOwnData_butNotAnothersTopics()
    {
        var sensor = Unique("soil");
        var (certificate, _) = await ProvisionAsync(sensor);
        using var client = await ConnectAsync(sensor, certificate);

        var own = await client.PublishStringAsync($"farmA/sensor/{sensor}/data", "{\"humidity\":30}", MqttQualityOfServiceLevel.AtLeastOnce);
        var others = await client.PublishStringAsync("farmA/sensor/soil-other/data", "{\"humidity\":99}", MqttQualityOfServiceLevel.AtLeastOnce);
        var pump = await client.PublishStringAsync("farmA/pump/pump-001/cmd", "{\"command\":\"ON\"}", MqttQualityOfServiceLevel.AtLeastOnce);

        AssertAccepted(own.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, others.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, pump.ReasonCode);
        // Refusals are visible to operators as a metric.
        using var http = new HttpClient();
        var scrape = await http.GetStringAsync(new Uri(_broker.ApiUrl, "metrics"));
        var denials = scrape.Split('\n').Single(l => l.StartsWith("iotserverless_broker_authorization_denials_total{", StringComparison.Ordinal) && l.Contains("action=\"publish\"", StringComparison.Ordinal));
        Assert.True(double.Parse(denials.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) >= 2, denials);
    }

    [Fact]
    public async Task ShadowActions_grantAThingsOwnShadowRequests_andADenyOfThePublishStillWins()
    {
        // No iot:Publish on the shadow topics: only the policy model's shadow actions, for the device's own shadows.
        var policy = Unique("shadow-actions");
        await CreatePolicyAsync(policy, """
            {"Version":"2012-10-17","Statement":[
              {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
              {"Effect":"Allow","Action":["iot:GetThingShadow","iot:UpdateThingShadow"],"Resource":["arn:aws:iot:*:*:thing/${iot:Connection.Thing.ThingName}","arn:aws:iot:*:*:thing/${iot:Connection.Thing.ThingName}/*"]},
              {"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/$aws/things/*/shadow/name/locked/update"}
            ]}
            """);
        var pump = Unique("pump");
        var (certificate, _) = await ProvisionAsync(pump, policy);
        using var client = await ConnectAsync(pump, certificate);

        var update = await client.PublishStringAsync($"$aws/things/{pump}/shadow/update", "{\"state\":{}}", MqttQualityOfServiceLevel.AtLeastOnce);
        var namedGet = await client.PublishStringAsync($"$aws/things/{pump}/shadow/name/irrigation/get", "{}", MqttQualityOfServiceLevel.AtLeastOnce);
        var delete = await client.PublishStringAsync($"$aws/things/{pump}/shadow/delete", "{}", MqttQualityOfServiceLevel.AtLeastOnce);
        var others = await client.PublishStringAsync("$aws/things/pump-other/shadow/update", "{\"state\":{}}", MqttQualityOfServiceLevel.AtLeastOnce);
        var denied = await client.PublishStringAsync($"$aws/things/{pump}/shadow/name/locked/update", "{\"state\":{}}", MqttQualityOfServiceLevel.AtLeastOnce);
        var plain = await client.PublishStringAsync($"farmA/pump/{pump}/state", "{}", MqttQualityOfServiceLevel.AtLeastOnce);

        AssertAccepted(update.ReasonCode);
        AssertAccepted(namedGet.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, delete.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, others.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, denied.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, plain.ReasonCode);
    }

    [Fact]
    public async Task Mqtt311Device_publishingOutsideItsPolicy_isDisconnected()
    {
        var sensor = Unique("soil");
        var (certificate, _) = await ProvisionAsync(sensor);
        using var client = await ConnectAsync(sensor, certificate, MqttProtocolVersion.V311);
        await client.PublishStringAsync("farmA/sensor/someone-else/data", "x", MqttQualityOfServiceLevel.AtMostOnce);
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(!client.IsConnected), TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Subscriptions_thatWouldWidenAccess_areRefused_ownCommandTopicIsGranted()
    {
        var pump = Unique("pump");
        var (certificate, _) = await ProvisionAsync(pump);
        using var client = await ConnectAsync(pump, certificate);

        var result = await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter($"farmA/pump/{pump}/cmd", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("farmA/pump/pump-other/cmd", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("farmA/#", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("farmA/pump/+/cmd", MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());

        var codes = result.Items.ToDictionary(i => i.TopicFilter.Topic, i => i.ResultCode);
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, codes[$"farmA/pump/{pump}/cmd"]);
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, codes["farmA/pump/pump-other/cmd"]);
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, codes["farmA/#"]);
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, codes["farmA/pump/+/cmd"]);
    }

    /// <summary>A policy that allows subscribing to farmA/# but receiving only the device's own commands.</summary>
    async Task<string> CreateWideSubscribePolicyAsync()
    {
        var policy = Unique("wide-subscribe");
        await CreatePolicyAsync(policy, """
            {"Version":"2012-10-17","Statement":[
              {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
              {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:*:*:topicfilter/farmA/#"},
              {"Effect":"Allow","Action":"iot:Receive","Resource":"arn:aws:iot:*:*:topic/farmA/pump/${iot:Connection.Thing.ThingName}/cmd"}
            ]}
            """);
        return policy;
    }

    static List<string> CollectTopics(IMqttClient client)
    {
        var received = new List<string>();
        client.ApplicationMessageReceivedAsync += e =>
        {
            lock (received)
            {
                received.Add(e.ApplicationMessage.Topic);
            }
            return Task.CompletedTask;
        };
        return received;
    }

    async Task PublishFromPlatformAsync(string topic, string payload, bool retain = false)
    {
        using var api = new HttpClient { BaseAddress = _broker.ApiUrl };
        api.DefaultRequestHeaders.Add("x-broker-key", TestBroker.ApiKey);
        (await api.PostAsync($"internal/v1/publish?topic={Uri.EscapeDataString(topic)}&qos=1&retain={(retain ? "true" : "false")}", new StringContent(payload))).EnsureSuccessStatusCode();
    }

    /// <summary>Waits for the device's own command, then checks that the other pump's never arrived.</summary>
    static async Task AssertHearsOnlyOwnCommandAsync(List<string> received, string pump)
    {
        Assert.True(await Eventually.TrueAsync(() =>
        {
            lock (received)
            {
                return Task.FromResult(received.Contains($"farmA/pump/{pump}/cmd"));
            }
        }, TimeSpan.FromSeconds(10)));
        await Task.Delay(300);
        lock (received)
        {
            Assert.DoesNotContain(received, t => t != $"farmA/pump/{pump}/cmd");
        }
    }

    [Fact]
    public async Task Receive_isCheckedAtDelivery_aWildcardSubscriptionHearsOnlyAllowedTopics()
    {
        var pump = Unique("pump");
        var (certificate, _) = await ProvisionAsync(pump, await CreateWideSubscribePolicyAsync());
        using var client = await ConnectAsync(pump, certificate);
        var received = CollectTopics(client);
        await client.SubscribeAsync("farmA/#", MqttQualityOfServiceLevel.AtLeastOnce);

        await PublishFromPlatformAsync("farmA/pump/pump-other/cmd", "other");
        await PublishFromPlatformAsync($"farmA/pump/{pump}/cmd", "mine");

        await AssertHearsOnlyOwnCommandAsync(received, pump);
    }

    [Fact]
    public async Task Receive_isCheckedForRetainedMessages_deliveredOnSubscribe()
    {
        // Retained commands for another pump and for this one are waiting before the device subscribes.
        var pump = Unique("pump");
        var other = Unique("pump");
        await PublishFromPlatformAsync($"farmA/pump/{other}/cmd", "other", retain: true);
        await PublishFromPlatformAsync($"farmA/pump/{pump}/cmd", "mine", retain: true);
        var (certificate, _) = await ProvisionAsync(pump, await CreateWideSubscribePolicyAsync());
        using var client = await ConnectAsync(pump, certificate);
        var received = CollectTopics(client);

        await client.SubscribeAsync("farmA/#", MqttQualityOfServiceLevel.AtLeastOnce);

        await AssertHearsOnlyOwnCommandAsync(received, pump);
    }

    [Fact]
    public async Task ClientIdOtherThanTheThingName_isRefused_whereThePolicyUsesThingVariables()
    {
        var sensor = Unique("soil");
        var (certificate, _) = await ProvisionAsync(sensor);
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await ConnectResultAsync("impostor-" + sensor, certificate));
        Assert.Equal(MqttClientConnectResultCode.Success, await ConnectResultAsync(sensor, certificate));
    }

    [Fact]
    public async Task UnregisteredAndInactiveCertificates_areRefused()
    {
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await ConnectResultAsync("stranger", _pki.Device("stranger")));
        var sensor = Unique("soil");
        var (certificate, _) = await ProvisionAsync(sensor, status: "INACTIVE");
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await ConnectResultAsync(sensor, certificate));
    }

    [Fact]
    public async Task NotYetValidExpiredAndUnregisteredUnknownCaCertificates_areRefused()
    {
        foreach (var (certificate, register) in new[] { (_pki.NotYetValidDevice("early"), true), (_pki.ExpiredDevice("late"), true), (_pki.RogueDevice("rogue"), false) })
        {
            using (certificate)
            {
                Assert.True(certificate.NotBefore > DateTime.Now || certificate.NotAfter < DateTime.Now || certificate.Issuer != _pki.Ca.Subject);
                var thing = Unique("dev");
                await SendOkAsync(new HttpRequestMessage(HttpMethod.Post, $"api/things/{thing}") { Content = Json(new { }) });
                if (register)
                {
                    // The API refuses to register the expired one; the not-yet-valid one is registered ACTIVE, so only the broker stands in the way.
                    using var registered = await _http.PostAsync("api/certificate/register-no-ca", Json(new { certificatePem = certificate.ExportCertificatePem(), status = "ACTIVE" }));
                }
                using var client = new MqttClientFactory().CreateMqttClient();
                var options = TestMqtt.Options(thing, _broker.MqttPort, certificate, _pki.Ca, MqttProtocolVersion.V500);
                MqttClientConnectResultCode? code = null;
                try
                {
                    code = (await client.ConnectAsync(options)).ResultCode; // a refused CONNACK may come back as a result
                }
                catch (Exception)
                {
                    // refused at the TLS handshake or CONNACK
                }
                Assert.True(code != MqttClientConnectResultCode.Success && !client.IsConnected, $"{certificate.Subject} ({certificate.NotBefore:u}..{certificate.NotAfter:u}) was accepted");
            }
        }
    }

    /// <summary>A client that hears every <c>$aws/events/...</c> message (lifecycle, registrations), by topic.</summary>
    async Task<(IMqttClient Client, List<(string Topic, JsonElement Body)> Events)> MonitorEventsAsync()
    {
        var policy = Unique("monitor");
        await CreatePolicyAsync(policy, """
            {"Version":"2012-10-17","Statement":[
              {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
              {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:*:*:topicfilter/$aws/events/#"},
              {"Effect":"Allow","Action":"iot:Receive","Resource":"arn:aws:iot:*:*:topic/$aws/events/*"}
            ]}
            """);
        var monitor = Unique("monitor");
        var (certificate, _) = await ProvisionAsync(monitor, policy);
        var client = await ConnectAsync(monitor, certificate);
        var events = new List<(string, JsonElement)>();
        client.ApplicationMessageReceivedAsync += e =>
        {
            lock (events)
            {
                events.Add((e.ApplicationMessage.Topic, JsonDocument.Parse(e.ApplicationMessage.Payload).RootElement.Clone()));
            }
            return Task.CompletedTask;
        };
        await client.SubscribeAsync("$aws/events/#", MqttQualityOfServiceLevel.AtLeastOnce);
        return (client, events);
    }

    static async Task<JsonElement> EventOnAsync(List<(string Topic, JsonElement Body)> events, string topic)
    {
        JsonElement? found = null;
        Assert.True(await Eventually.TrueAsync(() =>
        {
            lock (events)
            {
                found = events.Where(e => e.Topic == topic).Select(e => (JsonElement?)e.Body).FirstOrDefault();
            }
            return Task.FromResult(found is not null);
        }, TimeSpan.FromSeconds(10)), $"no event on {topic}");
        return found!.Value;
    }

    /// <summary>Registers a vendor CA through the API with proof of possession; returns its id.</summary>
    async Task<string> RegisterCaAsync(System.Security.Cryptography.X509Certificates.X509Certificate2 ca, bool allowAutoRegistration)
    {
        using var codeResponse = await _http.GetAsync("api/registrationcode");
        var code = (await codeResponse.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("registrationCode").GetString()!;
        using var verification = IoTServerless.Core.Security.CertificateFactory.CreateDeviceCertificate(ca, code);
        using var registered = await _http.PostAsync($"api/cacertificate?setAsActive=true&allowAutoRegistration={(allowAutoRegistration ? "true" : "false")}",
            Json(new { caCertificate = ca.ExportCertificatePem(), verificationCertificate = verification.ExportCertificatePem() }));
        Assert.True(registered.IsSuccessStatusCode, await registered.Content.ReadAsStringAsync());
        return (await registered.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("certificateId").GetString()!;
    }

    [Fact]
    public async Task JustInTimeRegistration_firstConnectRegistersPendingActivation_andTheDeviceIsAdmittedOnceActivated()
    {
        var (monitor, events) = await MonitorEventsAsync();
        using var _ = monitor;
        using var vendorCa = IoTServerless.Core.Security.CertificateFactory.CreateCertificateAuthority("Vendor CA " + Unique("jitr"));
        var caId = await RegisterCaAsync(vendorCa, allowAutoRegistration: true);
        var pump = Unique("pump");
        var certificate = TestPki.DeviceOf(vendorCa, pump);
        var certificateId = IoTServerless.Core.Security.CertificateFactory.GetCertificateId(certificate);

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await ConnectResultAsync(pump, certificate));

        var registered = await EventOnAsync(events, $"$aws/events/certificates/registered/{caId}");
        Assert.Equal(certificateId, registered.GetProperty("certificateId").GetString());
        Assert.Equal(caId, registered.GetProperty("caCertificateId").GetString());
        Assert.Equal("PENDING_ACTIVATION", registered.GetProperty("certificateStatus").GetString());
        var failed = await EventOnAsync(events, $"$aws/events/presence/connect_failed/{pump}");
        Assert.Equal("connect_failed", failed.GetProperty("eventType").GetString());
        Assert.Equal("AUTHENTICATION_FAILURE", failed.GetProperty("failureReason").GetString());
        Assert.Equal(certificateId, failed.GetProperty("principalIdentifier").GetString());
        using (var described = await _http.GetAsync($"api/certificates/{certificateId}"))
        {
            var description = (await described.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("certificateDescription");
            Assert.Equal("PENDING_ACTIVATION", description.GetProperty("status").GetString());
            Assert.Equal(caId, description.GetProperty("caCertificateId").GetString());
        }

        // Until it is activated the device stays out, and it is registered (and announced) only once.
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await ConnectResultAsync(pump, certificate));
        await Task.Delay(300);
        lock (events)
        {
            Assert.Single(events, e => e.Topic.StartsWith("$aws/events/certificates/registered/", StringComparison.Ordinal) && e.Body.GetProperty("certificateId").GetString() == certificateId);
        }

        // What a JITR function does: activate, create the thing, attach it and the least-privilege policy.
        await SendOkAsync(new HttpRequestMessage(HttpMethod.Put, $"api/certificates/{certificateId}?newStatus=ACTIVE"));
        await SendOkAsync(new HttpRequestMessage(HttpMethod.Post, $"api/things/{pump}") { Content = Json(new { }) });
        var arn = $"arn:aws:iot:local:000000000000:cert/{certificateId}";
        await SendOkAsync(new HttpRequestMessage(HttpMethod.Put, $"api/things/{pump}/principals") { Headers = { { "x-amzn-principal", arn } } });
        await SendOkAsync(new HttpRequestMessage(HttpMethod.Put, $"api/target-policies/{_policy}") { Content = Json(new { target = arn }) });
        Assert.True(await Eventually.TrueAsync(async () => await ConnectResultAsync(pump, certificate) == MqttClientConnectResultCode.Success, TimeSpan.FromSeconds(5)),
            "the activated certificate was not admitted within 5 s");
    }

    [Fact]
    public async Task JustInTimeRegistration_caWithoutAutoRegistration_registersNothing()
    {
        using var vendorCa = IoTServerless.Core.Security.CertificateFactory.CreateCertificateAuthority("Vendor CA " + Unique("nojitr"));
        await RegisterCaAsync(vendorCa, allowAutoRegistration: false);
        var pump = Unique("pump");
        var certificate = TestPki.DeviceOf(vendorCa, pump);

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await ConnectResultAsync(pump, certificate));

        using var described = await _http.GetAsync($"api/certificates/{IoTServerless.Core.Security.CertificateFactory.GetCertificateId(certificate)}");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, described.StatusCode);
    }

    [Fact]
    public async Task ConnectRefusedByPolicy_publishesConnectFailed_withAuthorizationFailure()
    {
        var (monitor, events) = await MonitorEventsAsync();
        using var _ = monitor;
        var pump = Unique("pump");
        var (certificate, certificateId) = await ProvisionAsync(pump);
        var impostor = Unique("pump");

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await ConnectResultAsync(impostor, certificate));

        var failed = await EventOnAsync(events, $"$aws/events/presence/connect_failed/{impostor}");
        Assert.Equal("AUTHORIZATION_FAILURE", failed.GetProperty("failureReason").GetString());
        Assert.Equal(certificateId, failed.GetProperty("principalIdentifier").GetString());
        Assert.True(failed.GetProperty("timestamp").GetInt64() > 0);
    }

    [Fact]
    public async Task RevokedCertificate_isDisconnectedWithinFiveSeconds_andCannotReconnect()
    {
        var pump = Unique("pump");
        var (certificate, certificateId) = await ProvisionAsync(pump);
        using var client = await ConnectAsync(pump, certificate);
        Assert.True(client.IsConnected);

        using (var revoke = await _http.PutAsync($"api/certificates/{certificateId}?newStatus=REVOKED", null))
        {
            revoke.EnsureSuccessStatusCode();
        }
        var revokedAt = DateTime.UtcNow;
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(!client.IsConnected), TimeSpan.FromSeconds(5)), "still connected 5 s after revocation");
        Assert.True(DateTime.UtcNow - revokedAt < TimeSpan.FromSeconds(5));
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await ConnectResultAsync(pump, certificate));
    }

    [Fact]
    public async Task PolicyAttachedToALiveConnection_takesEffectWithinFiveSeconds()
    {
        var sensor = Unique("soil");
        var (certificate, certificateId) = await ProvisionAsync(sensor);
        using var client = await ConnectAsync(sensor, certificate);
        var topic = $"farmA/sensor/{sensor}/data";
        AssertAccepted((await client.PublishStringAsync(topic, "1", MqttQualityOfServiceLevel.AtLeastOnce)).ReasonCode);

        var deny = Unique("quarantine");
        await CreatePolicyAsync(deny, """{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/farmA/sensor/*"}]}""");
        await SendOkAsync(new HttpRequestMessage(HttpMethod.Put, $"api/target-policies/{deny}") { Content = Json(new { target = certificateId }) });
        var attachedAt = DateTime.UtcNow;

        Assert.True(await Eventually.TrueAsync(async () =>
            (await client.PublishStringAsync(topic, "2", MqttQualityOfServiceLevel.AtLeastOnce)).ReasonCode == MqttClientPublishReasonCode.NotAuthorized,
            TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(200)), "the new Deny did not reach the live connection within 5 s");
        Assert.True(DateTime.UtcNow - attachedAt < TimeSpan.FromSeconds(5));
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task ParentGroupPolicy_isInheritedThroughSubGroups_andMembershipReachesLiveConnections()
    {
        var sensor = Unique("soil");
        var (certificate, _) = await ProvisionAsync(sensor);
        using var client = await ConnectAsync(sensor, certificate);
        const string shared = "farmA/shared/alerts";
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await client.PublishStringAsync(shared, "1", MqttQualityOfServiceLevel.AtLeastOnce)).ReasonCode);

        var farm = Unique("farm");
        var field = Unique("field");
        var groupPolicy = Unique("farm-alerts");
        await SendOkAsync(new HttpRequestMessage(HttpMethod.Post, $"api/thing-groups/{farm}") { Content = Json(new { }) });
        await SendOkAsync(new HttpRequestMessage(HttpMethod.Post, $"api/thing-groups/{field}") { Content = Json(new { parentGroupName = farm }) });
        await CreatePolicyAsync(groupPolicy, """{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/farmA/shared/*"}]}""");
        await SendOkAsync(new HttpRequestMessage(HttpMethod.Put, $"api/target-policies/{groupPolicy}") { Content = Json(new { target = farm }) });
        await SendOkAsync(new HttpRequestMessage(HttpMethod.Put, "api/thing-groups/addThingToThingGroup") { Content = Json(new { thingGroupName = field, thingName = sensor }) });

        Assert.True(await Eventually.TrueAsync(async () =>
            (int)(await client.PublishStringAsync(shared, "2", MqttQualityOfServiceLevel.AtLeastOnce)).ReasonCode < 0x80,
            TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(200)), "the grandparent group's policy did not reach the live connection within 5 s");
    }

    [Fact]
    public async Task ExplicitDeny_beatsAnyAllow()
    {
        var policy = Unique("deny-pump");
        await CreatePolicyAsync(policy, """
            {"Version":"2012-10-17","Statement":[
              {"Effect":"Allow","Action":"iot:*","Resource":"*"},
              {"Effect":"Deny","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/farmA/pump/*"}
            ]}
            """);
        var device = Unique("gateway");
        var (certificate, _) = await ProvisionAsync(device, policy);
        using var client = await ConnectAsync(device, certificate);
        AssertAccepted((await client.PublishStringAsync("farmA/sensor/x/data", "1", MqttQualityOfServiceLevel.AtLeastOnce)).ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await client.PublishStringAsync("farmA/pump/p1/cmd", "1", MqttQualityOfServiceLevel.AtLeastOnce)).ReasonCode);
    }

    [Fact]
    public async Task MqttWildcardsInAPolicyResource_matchOnlyLiterally()
    {
        var policy = Unique("literal-plus");
        await CreatePolicyAsync(policy, """
            {"Version":"2012-10-17","Statement":[
              {"Effect":"Allow","Action":"iot:Connect","Resource":"*"},
              {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:*:*:topic/farmA/+/data"},
              {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:*:*:topicfilter/farmA/#"}
            ]}
            """);
        var device = Unique("dev");
        var (certificate, _) = await ProvisionAsync(device, policy);
        using var client = await ConnectAsync(device, certificate);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await client.PublishStringAsync("farmA/sensor1/data", "1", MqttQualityOfServiceLevel.AtLeastOnce)).ReasonCode);
        var sub = await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("farmA/#", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("farmA/pump/cmd", MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());
        var codes = sub.Items.ToDictionary(i => i.TopicFilter.Topic, i => i.ResultCode);
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, codes["farmA/#"]);
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, codes["farmA/pump/cmd"]);
    }
}
