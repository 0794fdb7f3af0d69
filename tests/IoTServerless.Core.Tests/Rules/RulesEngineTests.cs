using System.Text;
using System.Text.Json;
using IoTServerless.Core.Rules;
using IoTServerless.Core.Rules.Engine;
using IoTServerless.Core.Shadows;
using IoTServerless.Core.Tests.Storage;
using IoTServerless.Testing;

namespace IoTServerless.Core.Tests.Rules;

/// <summary>The engine over event batches with the seed rules, rows landing in Azurite and republishes recorded.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class RulesEngineTests(AzuriteFixture azurite) : IDisposable
{
    const string SensorFilter = "farmA/sensor/+/data";

    readonly RulesTestHost _host = new(azurite, new Dictionary<string, string?> { ["Rules:ActionAttempts"] = "2", ["Rules:MaxRedeliveries"] = "2" });
    readonly string _table = RulesTestHost.UniqueTable("IoTSensorData");

    public void Dispose() => _host.Dispose();

    TopicRule SoilTelemetry(RuleAction? errorAction = null, string partitionKey = "${topic(3)}") => new()
    {
        RuleName = "SoilTelemetry",
        Sql = $"SELECT temperature, humidity, ph, timestamp() AS ts, topic(3) AS sensorId FROM '{SensorFilter}'",
        Actions = [new RuleAction { Table = new TableAction { TableName = _table, PartitionKey = partitionKey } }],
        ErrorAction = errorAction,
    };

    static TopicRule LowHumidity(bool disabled = false) => new()
    {
        RuleName = "LowHumidity",
        Sql = $"SELECT *, topic(3) AS sensorId FROM '{SensorFilter}' WHERE humidity < 35",
        RuleDisabled = disabled,
        Actions = [new RuleAction { Republish = new RepublishAction { Topic = "farmA/alerts/${topic(3)}", Qos = 1 } }],
    };

    static string Reading(double humidity, double temperature = 21.5) => $$"""{"temperature":{{temperature}},"humidity":{{humidity}},"ph":6.8,"battery":88}""";

    [Fact]
    public async Task SeedRules_overABatch_writeOneRowPerReadingAndRepublishOnlyLowHumidityInOneCall()
    {
        await _host.Rules.CreateAsync(SoilTelemetry(), default);
        await _host.Rules.CreateAsync(LowHumidity(), default);
        var dry = RulesTestHost.Message("farmA/sensor/soil-001/data", Reading(30));
        var dry2 = RulesTestHost.Message("farmA/sensor/soil-003/data", Reading(20), clientId: "soil-003");
        var ok = RulesTestHost.Message("farmA/sensor/soil-002/data", Reading(50), clientId: "soil-002");
        var elsewhere = RulesTestHost.Message("farmA/pump/pump-1/data", Reading(10), clientId: "pump-1");

        await _host.DispatchAsync(dry, ok, dry2, elsewhere);

        var rows = await _host.RowsAsync(_table);
        Assert.Equal(3, rows.Count);
        var row = Assert.Single(rows, r => r.PartitionKey == "soil-001");
        Assert.Equal(dry.Timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture), row.RowKey);
        Assert.Equal(21.5, row.GetDouble("temperature"));
        Assert.Equal(30L, row.GetInt64("humidity"));
        Assert.Equal(6.8, row.GetDouble("ph"));
        Assert.Equal(dry.Timestamp, row.GetInt64("ts"));
        Assert.Equal("soil-001", row.GetString("sensorId"));
        Assert.False(row.ContainsKey("battery")); // not selected
        Assert.Contains(rows, r => r.PartitionKey == "soil-002" && r.GetInt64("humidity") == 50);

        var batch = Assert.Single(_host.Broker.Batches); // both alerts in one batch publish
        Assert.Equal(["farmA/alerts/soil-001", "farmA/alerts/soil-003"], batch.Select(m => m.Topic).Order());
        var alert = batch.Single(m => m.Topic == "farmA/alerts/soil-001");
        Assert.Equal(1, alert.Qos);
        using var json = JsonDocument.Parse(alert.Payload);
        Assert.Equal(30, json.RootElement.GetProperty("humidity").GetDouble());
        Assert.Equal(88, json.RootElement.GetProperty("battery").GetInt32());
        Assert.Equal("soil-001", json.RootElement.GetProperty("sensorId").GetString());
    }

    [Fact]
    public async Task SeedRules_humidity50_writeARowAndPublishNothing()
    {
        await _host.Rules.CreateAsync(SoilTelemetry(), default);
        await _host.Rules.CreateAsync(LowHumidity(), default);

        await _host.DispatchAsync(RulesTestHost.Message("farmA/sensor/soil-002/data", Reading(50)));

        Assert.Single(await _host.RowsAsync(_table));
        Assert.Empty(_host.Broker.Published);
    }

    [Fact]
    public async Task RedeliveredBatch_writesTheSameRows_noDuplicates()
    {
        await _host.Rules.CreateAsync(SoilTelemetry(), default);
        var batch = Enumerable.Range(0, 150).Select(i => RulesTestHost.Message($"farmA/sensor/soil-{i % 3:000}/data", Reading(40 + i % 10, 20.5 + i))).ToArray();

        await _host.DispatchAsync(batch);
        var first = (await _host.RowsAsync(_table)).Select(r => (r.PartitionKey, r.RowKey, r.GetDouble("temperature"))).Order().ToList();
        await _host.DispatchAsync(batch);
        var second = (await _host.RowsAsync(_table)).Select(r => (r.PartitionKey, r.RowKey, r.GetDouble("temperature"))).Order().ToList();

        Assert.Equal(150, first.Count); // 3 partitions of 50: transactions, one row per message
        Assert.Equal(first, second);
    }

    [Fact]
    public async Task RowsOfABatch_areWrittenInTransactions_notOneRequestPerRow()
    {
        await using var proxy = await InterceptingTableProxy.StartAsync(azurite.TablePort);
        var singleWrites = 0;
        proxy.BeforeWrite = path =>
        {
            if (path.Contains(_table, StringComparison.Ordinal))
            {
                Interlocked.Increment(ref singleWrites);
            }
            return Task.CompletedTask;
        };
        using var host = new RulesTestHost(azurite, connectionString: proxy.ConnectionString(azurite.ConnectionString, azurite.TablePort));
        await host.Rules.CreateAsync(SoilTelemetry(), default);
        var batch = Enumerable.Range(0, 250).Select(i => RulesTestHost.Message($"farmA/sensor/soil-{i % 2:000}/data", Reading(40, 20.5 + i))).ToArray();

        await host.DispatchAsync(batch);

        Assert.Equal(250, (await host.RowsAsync(_table)).Count);
        Assert.Equal(0, singleWrites); // 2 partitions of 125 rows: 4 transactions, no row on its own
    }

    [Fact]
    public async Task DisabledRule_doesNothing_andDisablingTakesEffectAtOnce()
    {
        await _host.Rules.CreateAsync(LowHumidity(disabled: true), default);
        await _host.DispatchAsync(RulesTestHost.Message("farmA/sensor/soil-001/data", Reading(10)));
        Assert.Empty(_host.Broker.Published);

        await _host.Rules.EnableAsync("LowHumidity", default);
        await _host.DispatchAsync(RulesTestHost.Message("farmA/sensor/soil-001/data", Reading(10)));
        Assert.Single(_host.Broker.Published);

        await _host.Rules.DisableAsync("LowHumidity", default);
        await _host.DispatchAsync(RulesTestHost.Message("farmA/sensor/soil-001/data", Reading(10)));
        Assert.Single(_host.Broker.Published);
    }

    [Fact]
    public async Task RuleWrittenByAnotherProcess_isPickedUpWithinTheRefreshInterval()
    {
        using var host = new RulesTestHost(azurite, new Dictionary<string, string?> { ["Rules:RefreshMilliseconds"] = "300" });
        await host.DispatchAsync(RulesTestHost.Message("farmA/sensor/soil-001/data", Reading(10)));
        // Another instance's change: straight into the table, this process's catalog is not told.
        Assert.True(await host.Store.TryAddAsync(LowHumidity() with { CreatedAt = DateTimeOffset.UtcNow }, SensorFilter, default));

        Assert.True(await Eventually.TrueAsync(async () =>
        {
            await host.DispatchAsync(RulesTestHost.Message("farmA/sensor/soil-001/data", Reading(10)));
            return host.Broker.Published.Any();
        }, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task BasicIngest_feedsOnlyThatRule_andTheSqlSeesTheTopicWithoutThePrefix()
    {
        await _host.Rules.CreateAsync(SoilTelemetry(), default);
        await _host.Rules.CreateAsync(LowHumidity(), default);

        await _host.DispatchAsync(RulesTestHost.Message("$aws/rules/SoilTelemetry/farmA/sensor/soil-009/data", Reading(10)));

        var row = Assert.Single(await _host.RowsAsync(_table));
        Assert.Equal("soil-009", row.PartitionKey);
        Assert.Equal("soil-009", row.GetString("sensorId"));
        Assert.Empty(_host.Broker.Published); // LowHumidity matches the inner topic but was not addressed
    }

    [Fact]
    public async Task BasicIngest_toADisabledOrUnknownRule_doesNothing()
    {
        await _host.Rules.CreateAsync(LowHumidity(disabled: true), default);

        await _host.DispatchAsync(
            RulesTestHost.Message("$aws/rules/LowHumidity/farmA/sensor/soil-001/data", Reading(10)),
            RulesTestHost.Message("$aws/rules/NoSuchRule/farmA/sensor/soil-001/data", Reading(10)));

        Assert.Empty(_host.Broker.Published);
    }

    [Fact]
    public async Task FailingAction_sendsTheErrorActionTheAwsFailureDocument()
    {
        var errorAction = new RuleAction { Republish = new RepublishAction { Topic = "farmA/errors/${topic(3)}" } };
        // The partition key renders empty for this payload: the row cannot be written.
        await _host.Rules.CreateAsync(SoilTelemetry(errorAction, partitionKey: "${noSuchField}"), default);
        var message = RulesTestHost.Message("farmA/sensor/soil-004/data", Reading(40), clientId: "soil-004");

        await _host.DispatchAsync(message);

        Assert.Empty(await _host.RowsAsync(_table));
        var published = Assert.Single(_host.Broker.Published);
        Assert.Equal("farmA/errors/soil-004", published.Topic);
        using var json = JsonDocument.Parse(published.Payload);
        var root = json.RootElement;
        Assert.Equal("SoilTelemetry", root.GetProperty("ruleName").GetString());
        Assert.Equal("farmA/sensor/soil-004/data", root.GetProperty("topic").GetString());
        Assert.Equal("soil-004", root.GetProperty("clientId").GetString());
        Assert.Equal(Reading(40), Encoding.UTF8.GetString(Convert.FromBase64String(root.GetProperty("base64OriginalPayload").GetString()!)));
        var failure = Assert.Single(root.GetProperty("failures").EnumerateArray());
        Assert.Equal("TableAction", failure.GetProperty("failedAction").GetString());
        Assert.Equal(_table, failure.GetProperty("failedResource").GetString());
        Assert.Contains("partitionKey", failure.GetProperty("errorMessage").GetString());
    }

    [Fact]
    public async Task OneBadRowInATransaction_failsOnlyItself()
    {
        // Three rows for one partition in one batch; the binary one is over Table storage's 64 KiB per property.
        var raw = new TopicRule
        {
            RuleName = "RawRows",
            Sql = $"SELECT * FROM '{SensorFilter}'",
            Actions = [new RuleAction { Table = new TableAction { TableName = _table, PartitionKey = "${topic(3)}" } }],
            ErrorAction = new RuleAction { Republish = new RepublishAction { Topic = "farmA/errors" } },
        };
        await _host.Rules.CreateAsync(raw, default);
        var binary = RulesTestHost.Message("farmA/sensor/soil-005/data", "") with { Payload = Enumerable.Repeat((byte)0xff, 70_000).ToArray() };

        await _host.DispatchAsync(
            RulesTestHost.Message("farmA/sensor/soil-005/data", Reading(41)),
            binary,
            RulesTestHost.Message("farmA/sensor/soil-005/data", Reading(43)));

        var rows = await _host.RowsAsync(_table);
        Assert.Equal([41L, 43L], rows.Select(r => r.GetInt64("humidity")!.Value).Order());
        var failure = Assert.Single(_host.Broker.Published);
        using var json = JsonDocument.Parse(failure.Payload);
        Assert.Equal("RawRows", json.RootElement.GetProperty("ruleName").GetString());
        Assert.Equal(binary.Payload, Convert.FromBase64String(json.RootElement.GetProperty("base64OriginalPayload").GetString()!));
        Assert.Equal("TableAction", json.RootElement.GetProperty("failures")[0].GetProperty("failedAction").GetString());
    }

    [Fact]
    public async Task BrokerUnreachable_withoutErrorAction_redeliversABoundedNumberOfTimesThenDrops()
    {
        await _host.Rules.CreateAsync(LowHumidity(), default);
        _host.Broker.Failure = () => new HttpRequestException("connection refused");
        var message = RulesTestHost.Message("farmA/sensor/soil-001/data", Reading(10));

        // MaxRedeliveries = 2: the first two deliveries throw (the event is redelivered), the third gives up.
        await Assert.ThrowsAsync<RuleExecutionException>(() => _host.DispatchAsync(message));
        await Assert.ThrowsAsync<RuleExecutionException>(() => _host.DispatchAsync(message));
        await _host.DispatchAsync(message);
        Assert.Equal(6, _host.Broker.Calls); // 2 attempts per delivery
    }

    [Fact]
    public async Task ActionRefusedPermanently_withoutErrorAction_isDroppedNotRedelivered()
    {
        await _host.Rules.CreateAsync(SoilTelemetry(partitionKey: "${noSuchField}"), default);

        await _host.DispatchAsync(RulesTestHost.Message("farmA/sensor/soil-001/data", Reading(10)));

        Assert.Empty(await _host.RowsAsync(_table));
    }

    [Fact]
    public async Task ErrorActionFailingToo_withInfrastructureError_redelivers()
    {
        var rule = LowHumidity() with { ErrorAction = new RuleAction { Republish = new RepublishAction { Topic = "farmA/errors" } } };
        await _host.Rules.CreateAsync(rule, default);
        _host.Broker.Failure = () => new HttpRequestException("connection refused");

        await Assert.ThrowsAsync<RuleExecutionException>(() => _host.DispatchAsync(RulesTestHost.Message("farmA/sensor/soil-001/data", Reading(10))));
    }

    [Fact]
    public async Task GetThingShadow_readsTheStoredShadow()
    {
        var pump = "pump-" + Guid.NewGuid().ToString("N")[..8];
        var update = await _host.Get<ShadowService>().UpdateAsync(pump, null, """{"state":{"reported":{"valve":"open","flow":12.5}}}"""u8.ToArray(), default);
        Assert.True(update.Accepted);
        await _host.Rules.CreateAsync(new TopicRule
        {
            RuleName = "PumpContext",
            Sql = "SELECT humidity, get_thing_shadow(pump, 'arn:aws:iam::1:role/r').state.reported.valve AS valve FROM 'farmA/sensor/+/data' WHERE get_thing_shadow(pump, 'arn').state.reported.flow > 10",
            Actions = [new RuleAction { Republish = new RepublishAction { Topic = "farmA/context/${topic(3)}" } }],
        }, default);

        await _host.DispatchAsync(
            RulesTestHost.Message("farmA/sensor/soil-001/data", $$"""{"humidity":30,"pump":"{{pump}}"}"""),
            RulesTestHost.Message("farmA/sensor/soil-002/data", """{"humidity":31,"pump":"no-such-pump"}"""));

        var published = Assert.Single(_host.Broker.Published);
        Assert.Equal("farmA/context/soil-001", published.Topic);
        Assert.Equal("""{"humidity":30,"valve":"open"}""", Encoding.UTF8.GetString(published.Payload.Span));
    }

    [Fact]
    public async Task Republish_toDoubleDollarTopic_publishesToTheReservedTopic()
    {
        await _host.Rules.CreateAsync(new TopicRule
        {
            RuleName = "ToShadow",
            Sql = $"SELECT VALUE {{'state': {{'reported': {{'humidity': humidity}}}}}} FROM '{SensorFilter}'",
            Actions = [new RuleAction { Republish = new RepublishAction { Topic = "$$aws/things/${topic(3)}/shadow/update", Retain = true } }],
        }, default);

        await _host.DispatchAsync(RulesTestHost.Message("farmA/sensor/soil-001/data", Reading(33)));

        var published = Assert.Single(_host.Broker.Published);
        Assert.Equal("$aws/things/soil-001/shadow/update", published.Topic);
        Assert.True(published.Retain);
        Assert.Equal(0, published.Qos);
        Assert.Equal("""{"state":{"reported":{"humidity":33}}}""", Encoding.UTF8.GetString(published.Payload.Span));
    }

    [Fact]
    public async Task DamagedStoredRule_isSkipped_andTheOthersStillRun()
    {
        await _host.Rules.CreateAsync(LowHumidity(), default);
        var table = _host.TableService.GetTableClient(_host.RulesTable);
        await table.UpsertEntityAsync(new Azure.Data.Tables.TableEntity(TopicRuleStore.Partition, "Damaged")
        {
            ["Rule"] = "{not json",
            ["TopicFilter"] = SensorFilter,
            ["RuleDisabled"] = false,
        });
        _host.Get<RuleCatalog>().Invalidate();

        await _host.DispatchAsync(RulesTestHost.Message("farmA/sensor/soil-001/data", Reading(10)));

        Assert.Single(_host.Broker.Published);
    }

    [Fact]
    public void TryParseBasicIngest_splitsRuleNameAndInnerTopic()
    {
        Assert.True(RulesEngine.TryParseBasicIngest("$aws/rules/R1/a/b/c", out var rule, out var topic));
        Assert.Equal(("R1", "a/b/c"), (rule, topic));
        Assert.True(RulesEngine.TryParseBasicIngest("$aws/rules/R1", out rule, out topic));
        Assert.Equal(("R1", ""), (rule, topic));
        Assert.False(RulesEngine.TryParseBasicIngest("$aws/things/t/shadow/update", out _, out _));
        Assert.False(RulesEngine.TryParseBasicIngest("$aws/rules/", out _, out _));
    }
}
