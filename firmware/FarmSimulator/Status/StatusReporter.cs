namespace FarmSimulator.Status;

/// <summary>
/// Shows the farm status on one line. On a terminal the line is redrawn in place (<c>\r</c>) about once
/// a second; otherwise (logs, CI) a full line is printed every 5 seconds. Event messages are printed on
/// their own lines without garbling the status line. Thread-safe.
/// </summary>
/// <param name="terminalWidth">On a terminal, the redrawn line is cut to this width (a wrapped line cannot be redrawn in place); 0 = no limit.</param>
public sealed class StatusReporter(TextWriter output, bool interactive, Func<FarmStatus> status, TimeProvider time, Func<int>? terminalWidth = null)
{
    public static readonly TimeSpan InteractivePeriod = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan LogPeriod = TimeSpan.FromSeconds(5);

    readonly Lock _lock = new();
    int _drawnLength;

    public bool Interactive { get; } = interactive;

    /// <summary>Refreshes the status until cancelled, then prints it a last time on its own line.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Interactive ? InteractivePeriod : LogPeriod, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                Draw();
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>Prints the current status as a final, complete line.</summary>
    public void Finish()
    {
        lock (_lock)
        {
            ClearLine();
            output.WriteLine(Stamp(status().ToStatusLine()));
            output.Flush();
        }
    }

    /// <summary>Prints an event message on its own line.</summary>
    public void Log(string message)
    {
        lock (_lock)
        {
            ClearLine();
            output.WriteLine(Stamp(message));
            if (Interactive)
            {
                DrawLocked();
            }
            output.Flush();
        }
    }

    void Draw()
    {
        lock (_lock)
        {
            if (Interactive)
            {
                DrawLocked();
            }
            else
            {
                output.WriteLine(Stamp(status().ToStatusLine()));
            }
            output.Flush();
        }
    }

    void DrawLocked()
    {
        var line = status().ToStatusLine();
        var width = terminalWidth?.Invoke() ?? 0;
        if (width > 1 && line.Length >= width)
        {
            line = line[..(width - 1)];
        }
        // Pad over what the previous, possibly longer, line left on screen.
        output.Write('\r' + line.PadRight(_drawnLength));
        _drawnLength = line.Length;
    }

    void ClearLine()
    {
        if (Interactive && _drawnLength > 0)
        {
            output.Write('\r' + new string(' ', _drawnLength) + '\r');
            _drawnLength = 0;
        }
    }

    string Stamp(string message) => $"{time.GetLocalNow():HH:mm:ss} {message}";
}
