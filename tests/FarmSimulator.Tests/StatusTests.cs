using FarmSimulator.Status;

namespace FarmSimulator.Tests;

public sealed class StatusTests
{
    static readonly FarmStatus Sample = new(20, 19, 5, 5, 1234, 2, 3, 1, ["pump-002", "pump-004"], 33.24, 47.51);

    [Fact]
    public void ToStatusLine_shows_connections_counters_pumps_and_humidity()
    {
        Assert.Equal(
            "sensors 19/20 | pumps 5/5 | readings 1234 (failed 2) | commands 3 (ignored 1) | ON: pump-002,pump-004 | humidity min 33.2 avg 47.5",
            Sample.ToStatusLine());
    }

    [Fact]
    public void ToStatusLine_no_readings_and_many_pumps_on_stays_short()
    {
        var pumps = Enumerable.Range(1, 9).Select(i => $"pump-{i:D3}").ToList();
        var line = (Sample with { PumpsOn = pumps, MinHumidity = null, AverageHumidity = null }).ToStatusLine();

        Assert.Contains("ON: pump-001,pump-002,pump-003,pump-004,pump-005,pump-006 +3", line);
        Assert.EndsWith("| humidity -", line);
    }

    [Fact]
    public void Log_on_a_terminal_clears_the_status_line_and_redraws_it()
    {
        var output = new StringWriter();
        var reporter = new StatusReporter(output, interactive: true, () => Sample, TimeProvider.System);

        reporter.Log("pump-002 ON for 600 s");
        reporter.Log("pump-004 ON for 600 s");

        var text = output.ToString();
        var line = Sample.ToStatusLine();
        Assert.Contains("pump-002 ON for 600 s" + Environment.NewLine + "\r" + line, text);
        // Before the second message the drawn status line is blanked out.
        Assert.Contains("\r" + line + "\r" + new string(' ', line.Length) + "\r", text);
        Assert.DoesNotContain(Environment.NewLine + line, text);
    }

    [Fact]
    public void Log_on_a_narrow_terminal_cuts_the_status_line_to_fit()
    {
        var output = new StringWriter();
        var reporter = new StatusReporter(output, interactive: true, () => Sample, TimeProvider.System, () => 40);

        reporter.Log("soil-001 reconnected");

        Assert.EndsWith(Environment.NewLine + "\r" + Sample.ToStatusLine()[..39], output.ToString());
    }

    [Fact]
    public void Finish_when_not_a_terminal_prints_plain_lines()
    {
        var output = new StringWriter();
        var reporter = new StatusReporter(output, interactive: false, () => Sample, TimeProvider.System);

        reporter.Log("soil-001 reconnected");
        reporter.Finish();

        Assert.DoesNotContain("\r", output.ToString());
        var lines = output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.EndsWith("soil-001 reconnected", lines[0]);
        Assert.EndsWith(Sample.ToStatusLine(), lines[1]);
    }
}
