using System.Diagnostics;
using System.Globalization;
using System.Text;
using Azure;
using Azure.Data.Tables;
using FarmSimulator.Simulation;
using IoTServerless.Device;

namespace FarmSimulator.Load;

/// <summary>What one rules load run measured: the stack's telemetry rows per second next to Azurite's own insert rates of the same run.</summary>
public sealed record RulesLoadResult(
    int Sensors,
    int Messages,
    double AzuriteBatchRowsPerSecond,
    double AzuriteSingleRowsPerSecond,
    double PublishedPerSecond,
    double StoredRowsPerSecond,
    long RowsStored,
    long Lost,
    long PublishFailures);

/// <summary>Where to connect, what to send, and where the rows land.</summary>
public sealed record RulesLoadOptions(
    string Host,
    int Port,
    string CertificateDirectory,
    IReadOnlyList<string> Sensors,
    int MessagesPerSensor,
    string StorageConnectionString,
    string Table,
    string Farm,
    TimeSpan DrainTimeout);

/// <summary>
/// The rules engine's end-to-end load scenario: how fast the local stack turns QoS 1 sensor readings
/// into <c>IoTSensorData</c> rows through the <c>SoilTelemetry</c> rule, with zero loss, against what
/// Azurite itself takes in the same run. Phases:
/// <list type="number">
/// <item>Azurite batch insert: the same number of rows, straight into a scratch table in transactions
/// of 100 rows of one partition, 8 at a time (Azurite's limit for this row shape);</item>
/// <item>Azurite single-row upserts, 32 at a time (the limit when each partition gets one row at a time,
/// as with one partition per sensor and one reading per sensor per event batch);</item>
/// <item>the stack: every sensor publishes its readings at QoS 1, one outstanding (a new reading only
/// after the PUBACK, so <c>${timestamp()}</c> row keys are unique per sensor), humidity above the
/// LowHumidity threshold; then the table is counted until every reading is a row. The table is not
/// read while the readings flow (a scan would compete with the rule's writes): a QoS 1 PUBACK comes
/// only after the functions accepted the batch, i.e. after its rows were written, so the count right
/// after the last PUBACK normally already holds them all.</item>
/// </list>
/// </summary>
public sealed class RulesLoad(RulesLoadOptions options, Action<string> log) : IAsyncDisposable
{
    const int TransactionRows = 100;
    readonly List<(string Sensor, DeviceClient Client)> _devices = [];
    long _publishFailures;

    public async Task<RulesLoadResult> RunAsync(CancellationToken cancellationToken)
    {
        var service = new TableServiceClient(options.StorageConnectionString);
        var rows = options.Sensors.Count * options.MessagesPerSensor;
        var batch = await AzuriteBatchInsertAsync(service, rows, cancellationToken);
        log($"Azurite batch insert: {batch:0} rows/s ({rows} rows, transactions of {TransactionRows})");
        var single = await AzuriteSingleUpsertAsync(service, Math.Min(rows, 20_000), cancellationToken);
        log($"Azurite single-row upsert: {single:0} rows/s");

        await ConnectAllAsync(cancellationToken);
        log($"{_devices.Count} sensors connected; {options.MessagesPerSensor} readings each at QoS 1");
        var table = service.GetTableClient(options.Table);
        var before = await CountAsync(table, cancellationToken);
        var start = Stopwatch.GetTimestamp();
        await Task.WhenAll(_devices.Select(d => PublishAllAsync(d.Sensor, d.Client, cancellationToken)));
        var published = rows / Stopwatch.GetElapsedTime(start).TotalSeconds;
        log($"published (PUBACKed): {published:0} msg/s; failures {Interlocked.Read(ref _publishFailures)}");

        var expected = before + rows - Interlocked.Read(ref _publishFailures);
        long stored;
        var deadline = Stopwatch.GetTimestamp() + (long)(options.DrainTimeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            stored = await CountAsync(table, cancellationToken) - before;
            if (before + stored >= expected || Stopwatch.GetTimestamp() > deadline)
            {
                break;
            }
            await Task.Delay(1000, cancellationToken);
        }
        var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        log($"stored {stored} of {rows} rows in {elapsed:0.0} s");
        return new RulesLoadResult(_devices.Count, rows, batch, single, published, stored / elapsed, stored, rows - stored, Interlocked.Read(ref _publishFailures));
    }

    static TableEntity Row(string partition, string rowKey, int i) => new(partition, rowKey)
    {
        ["temperature"] = 20 + (i % 50) / 10.0,
        ["humidity"] = 50 + (i % 30) / 10.0,
        ["ph"] = 6.5,
        ["ts"] = 1_764_345_600_000L + i,
        ["sensorId"] = partition,
    };

    async Task<double> AzuriteBatchInsertAsync(TableServiceClient service, int rows, CancellationToken cancellationToken)
    {
        var table = service.GetTableClient("RulesLoadBatch" + DateTime.UtcNow.ToString("HHmmssfff", CultureInfo.InvariantCulture));
        await table.CreateIfNotExistsAsync(cancellationToken);
        var perSensor = options.MessagesPerSensor;
        var transactions = options.Sensors
            .SelectMany(sensor => Enumerable.Range(0, perSensor).Chunk(TransactionRows).Select(chunk => (sensor, chunk)))
            .ToList();
        var start = Stopwatch.GetTimestamp();
        await Parallel.ForEachAsync(transactions, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (t, token) =>
        {
            var actions = t.chunk.Select(i => new TableTransactionAction(TableTransactionActionType.UpsertReplace, Row(t.sensor, i.ToString("D10", CultureInfo.InvariantCulture), i)));
            await table.SubmitTransactionAsync(actions, token);
        });
        var rate = rows / Stopwatch.GetElapsedTime(start).TotalSeconds;
        await table.DeleteAsync(cancellationToken);
        return rate;
    }

    async Task<double> AzuriteSingleUpsertAsync(TableServiceClient service, int rows, CancellationToken cancellationToken)
    {
        var table = service.GetTableClient("RulesLoadSingle" + DateTime.UtcNow.ToString("HHmmssfff", CultureInfo.InvariantCulture));
        await table.CreateIfNotExistsAsync(cancellationToken);
        var sensors = options.Sensors;
        var start = Stopwatch.GetTimestamp();
        await Parallel.ForEachAsync(Enumerable.Range(0, rows), new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = cancellationToken }, async (i, token) =>
            await table.UpsertEntityAsync(Row(sensors[i % sensors.Count], i.ToString("D10", CultureInfo.InvariantCulture), i), TableUpdateMode.Replace, token));
        var rate = rows / Stopwatch.GetElapsedTime(start).TotalSeconds;
        await table.DeleteAsync(cancellationToken);
        return rate;
    }

    static async Task<long> CountAsync(TableClient table, CancellationToken cancellationToken)
    {
        long count = 0;
        try
        {
            await foreach (var page in table.QueryAsync<TableEntity>(select: ["PartitionKey"], maxPerPage: 1000, cancellationToken: cancellationToken).AsPages())
            {
                count += page.Values.Count;
            }
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return 0; // the rule has not created its table yet
        }
        return count;
    }

    async Task ConnectAllAsync(CancellationToken cancellationToken)
    {
        foreach (var sensor in options.Sensors)
        {
            _devices.Add((sensor, LoadDevices.Create(options.Host, options.Port, options.CertificateDirectory, sensor)));
        }
        await Parallel.ForEachAsync(_devices, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken },
            async (device, token) => await device.Client.ConnectAsync(token));
    }

    async Task PublishAllAsync(string sensor, DeviceClient client, CancellationToken cancellationToken)
    {
        var topic = FarmNaming.SensorDataTopic(options.Farm, sensor);
        for (var i = 0; i < options.MessagesPerSensor; i++)
        {
            var payload = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
                $"{{\"temperature\":{20 + (i % 50) / 10.0},\"humidity\":{50 + (i % 30) / 10.0},\"ph\":6.5,\"battery\":3.9,\"seq\":{i}}}"));
            try
            {
                await client.PublishAsync(topic, payload, QualityOfService.AtLeastOnce, retain: false, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                if (Interlocked.Increment(ref _publishFailures) <= 3)
                {
                    log($"publish failed: {ex.GetType().Name}: {ex.Message}");
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (_, client) in _devices)
        {
            await client.DisposeAsync();
        }
    }
}
