using FarmSimulator.Certificates;
using FarmSimulator.Status;
using IoTServerless.Device;

namespace FarmSimulator.Simulation;

/// <summary>Settings of a simulation run.</summary>
public sealed record FarmSimulationOptions(
    string Host,
    int Port,
    string CertificateDirectory,
    int Sensors,
    int Pumps,
    string Farm,
    TimeSpan Interval,
    int Seed);

/// <summary>
/// Runs a farm: every sensor and pump is its own device with its own certificate and TLS connection
/// (client id = thing name). Pump state is wired to the paired sensors' soil models in-process,
/// standing in for the water.
/// </summary>
public sealed class FarmSimulation : IAsyncDisposable
{
    readonly FarmSimulationOptions _options;
    readonly TimeProvider _time;
    readonly Action<string> _log;
    readonly List<SensorDevice> _sensors = [];
    readonly List<PumpDevice> _pumps = [];

    public FarmSimulation(FarmSimulationOptions options, TimeProvider time, Action<string> log)
    {
        _options = options;
        _time = time;
        _log = log;
        var caPath = Path.Combine(options.CertificateDirectory, DevPki.CaCertificateFile);
        RequireFile(caPath);
        foreach (var thing in FarmNaming.PumpNames(options.Pumps).Concat(FarmNaming.SensorNames(options.Sensors)))
        {
            RequireFile(DevPki.DeviceCertificatePath(options.CertificateDirectory, thing));
            RequireFile(DevPki.DeviceKeyPath(options.CertificateDirectory, thing));
        }
        var start = time.GetUtcNow();
        for (var i = 1; i <= options.Pumps; i++)
        {
            var name = FarmNaming.PumpName(i);
            _pumps.Add(new PumpDevice(name, options.Farm, CreateClient(name, caPath), time, log));
        }
        for (var i = 1; i <= options.Sensors; i++)
        {
            var name = FarmNaming.SensorName(i);
            var pump = FarmNaming.PumpIndexForSensor(i, options.Pumps) is { } p ? _pumps[p - 1].State : null;
            var model = new SoilModel(unchecked((options.Seed * 1_000_003) + i), start);
            _sensors.Add(new SensorDevice(name, options.Farm, CreateClient(name, caPath), model, pump, time));
        }
    }

    public IReadOnlyList<SensorDevice> Sensors => _sensors;

    public IReadOnlyList<PumpDevice> Pumps => _pumps;

    /// <summary>Runs until cancelled; sensors' first readings are spread over one interval.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var tasks = new List<Task>();
        tasks.AddRange(_pumps.Select(p => p.RunAsync(cancellationToken)));
        for (var i = 0; i < _sensors.Count; i++)
        {
            var startDelay = _options.Interval * i / Math.Max(1, _sensors.Count);
            tasks.Add(_sensors[i].RunAsync(_options.Interval, startDelay, cancellationToken));
        }
        try
        {
            await Task.WhenAll(tasks);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    public FarmStatus GetStatus()
    {
        var now = _time.GetUtcNow();
        var humidity = _sensors.Select(s => s.LastReading?.Humidity).OfType<double>().ToList();
        return new FarmStatus(
            _sensors.Count,
            _sensors.Count(s => s.Client.IsConnected),
            _pumps.Count,
            _pumps.Count(p => p.Client.IsConnected),
            _sensors.Sum(s => s.ReadingsSent),
            _sensors.Sum(s => s.ReadingsFailed),
            _pumps.Sum(p => p.CommandsReceived),
            _pumps.Sum(p => p.CommandsIgnored),
            _pumps.Where(p => p.State.IsOn(now)).Select(p => p.ThingName).ToList(),
            humidity.Count > 0 ? humidity.Min() : null,
            humidity.Count > 0 ? humidity.Average() : null);
    }

    /// <summary>Disconnects every device.</summary>
    public async ValueTask DisposeAsync()
    {
        var clients = _sensors.Select(s => s.Client).Concat(_pumps.Select(p => p.Client));
        await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
        foreach (var pump in _pumps)
        {
            pump.Dispose();
        }
    }

    DeviceClient CreateClient(string thing, string caPath)
    {
        var certificatePath = DevPki.DeviceCertificatePath(_options.CertificateDirectory, thing);
        var keyPath = DevPki.DeviceKeyPath(_options.CertificateDirectory, thing);
        var client = new DeviceClient(new DeviceConnectionOptions
        {
            Host = _options.Host,
            Port = _options.Port,
            ClientId = thing,
            CertificatePath = certificatePath,
            KeyPath = keyPath,
            CaCertificatePath = caPath,
            ReconnectInitialDelay = TimeSpan.FromSeconds(1),
            ReconnectMaxDelay = TimeSpan.FromSeconds(30),
        });
        client.Connected += (_, e) =>
        {
            if (e.IsReconnect)
            {
                _log($"{thing} reconnected");
            }
        };
        client.Disconnected += (_, e) =>
        {
            if (e.WillReconnect)
            {
                _log($"{thing} lost its connection ({e.Reason}); reconnecting");
            }
        };
        client.ConnectFailed += (_, e) =>
        {
            if (e.Attempt == 0)
            {
                _log($"{thing} cannot connect to {_options.Host}:{_options.Port}: {Innermost(e.Exception).Message} (retrying)");
            }
        };
        client.HandlerFailed += (_, e) => _log($"{thing} failed to handle a message on {e.Topic}: {e.Exception.Message}");
        client.SubscriptionRejected += (_, e) => _log($"{thing} subscription to {e.TopicFilter} refused: {e.Reason}");
        return client;
    }

    static Exception Innermost(Exception exception)
    {
        while (exception.InnerException is { } inner)
        {
            exception = inner;
        }
        return exception;
    }

    static void RequireFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path} is missing; create the dev PKI first with: certs --out DIR", path);
        }
    }
}
