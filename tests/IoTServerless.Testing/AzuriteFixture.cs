using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace IoTServerless.Testing;

/// <summary>
/// A real Azurite (the npm package, installed into .local/azurite on first use) with its table, blob
/// and queue servers on free loopback ports and its own data folder; stopped by its PID.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    // Azurite's well-known development account (public, documented; not a secret).
    const string DevAccount = "devstoreaccount1";
    const string DevKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    Process? _process;
    string? _location;

    public int TablePort { get; private set; }

    public int BlobPort { get; private set; }

    public int QueuePort { get; private set; }

    public string ConnectionString => $"DefaultEndpointsProtocol=http;AccountName={DevAccount};AccountKey={DevKey};TableEndpoint=http://127.0.0.1:{TablePort}/{DevAccount};BlobEndpoint=http://127.0.0.1:{BlobPort}/{DevAccount};QueueEndpoint=http://127.0.0.1:{QueuePort}/{DevAccount};";

    public async Task InitializeAsync()
    {
        var main = await EnsureInstalledAsync();
        _location = Directory.CreateTempSubdirectory("azurite-").FullName;
        // Below the ephemeral range: RestartAsync binds the same ports again after clients kept trying them.
        var ports = new List<int>();
        while (ports.Count < 3)
        {
            var port = FreeTcpPort.NextBelowEphemeralRange();
            if (!ports.Contains(port))
            {
                ports.Add(port);
            }
        }
        await StartAsync(main, ports[0], ports[1], ports[2]);
    }

    /// <summary>Stops Azurite and starts it again on the same ports and data (a storage outage).</summary>
    public async Task RestartAsync(TimeSpan downtime)
    {
        await StopAsync();
        await Task.Delay(downtime);
        await StartAgainAsync();
    }

    /// <summary>Starts Azurite again, after <see cref="StopAsync"/>, on the same ports and data.</summary>
    public async Task StartAgainAsync() => await StartAsync(await EnsureInstalledAsync(), TablePort, BlobPort, QueuePort);

    /// <summary>
    /// Stops Azurite as an operator would (SIGTERM: it closes its servers and saves its databases, which
    /// it otherwise does only every 5 s), killing it if it has not exited within 10 s.
    /// </summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false })
        {
            if (!OperatingSystem.IsWindows() && Terminate(_process.Id, SigTerm) == 0)
            {
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try
                {
                    await _process.WaitForExitAsync(grace.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
            await _process.WaitForExitAsync();
        }
        _process?.Dispose();
        _process = null;
    }

    async Task StartAsync(string main, int tablePort, int blobPort, int queuePort)
    {
        TablePort = tablePort;
        BlobPort = blobPort;
        QueuePort = queuePort;
        var start = new ProcessStartInfo("node")
        {
            ArgumentList =
            {
                main,
                "--tableHost", "127.0.0.1", "--tablePort", tablePort.ToString(),
                "--blobHost", "127.0.0.1", "--blobPort", blobPort.ToString(),
                "--queueHost", "127.0.0.1", "--queuePort", queuePort.ToString(),
                "--location", _location!, "--skipApiVersionCheck", "--disableProductStyleUrl", "--silent",
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = Process.Start(start) ?? throw new InvalidOperationException("Could not start node.");
        _process.OutputDataReceived += (_, _) => { };
        string? lastError = null;
        _process.ErrorDataReceived += (_, e) => lastError = e.Data ?? lastError;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        foreach (var port in new[] { tablePort, blobPort, queuePort })
        {
            while (true)
            {
                if (_process.HasExited)
                {
                    throw new InvalidOperationException($"Azurite exited with code {_process.ExitCode}: {lastError}");
                }
                if (DateTime.UtcNow >= deadline)
                {
                    throw new TimeoutException($"Azurite did not start listening on port {port} within 30 s.");
                }
                try
                {
                    using var probe = new TcpClient();
                    await probe.ConnectAsync(IPAddress.Loopback, port);
                    break;
                }
                catch (SocketException)
                {
                    await Task.Delay(100);
                }
            }
        }
    }

    public async Task DisposeAsync()
    {
        await StopAsync();
        if (_location is not null)
        {
            try
            {
                Directory.Delete(_location, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    static readonly SemaphoreSlim InstallLock = new(1, 1);

    /// <summary>Azurite's entry script (table, blob and queue servers in one process), installing the pinned package first if needed.</summary>
    public static async Task<string> EnsureInstalledAsync()
    {
        var prefix = Path.Combine(RepoPaths.Local, "azurite");
        var main = Path.Combine(prefix, "node_modules", "azurite", "dist", "src", "azurite.js");
        await InstallLock.WaitAsync();
        try
        {
            if (File.Exists(main))
            {
                return main;
            }
            Directory.CreateDirectory(prefix);
            File.Copy(Path.Combine(RepoPaths.Root, "tools", "azurite", "package.json"), Path.Combine(prefix, "package.json"), overwrite: true);
            var npm = Process.Start(new ProcessStartInfo("npm")
            {
                ArgumentList = { "install", "--prefix", prefix, "--no-audit", "--no-fund", "--loglevel", "error" },
                UseShellExecute = false,
            }) ?? throw new InvalidOperationException("Could not start npm.");
            await npm.WaitForExitAsync();
            if (npm.ExitCode != 0 || !File.Exists(main))
            {
                throw new InvalidOperationException($"npm install of Azurite failed ({npm.ExitCode}).");
            }
            return main;
        }
        finally
        {
            InstallLock.Release();
        }
    }

    const int SigTerm = 15;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    static extern int Terminate(int pid, int signal);
}
