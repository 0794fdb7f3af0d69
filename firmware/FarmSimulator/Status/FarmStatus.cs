using System.Globalization;
using System.Text;

namespace FarmSimulator.Status;

/// <summary>A point-in-time view of the simulated farm.</summary>
public sealed record FarmStatus(
    int Sensors,
    int SensorsConnected,
    int Pumps,
    int PumpsConnected,
    long ReadingsSent,
    long ReadingsFailed,
    long CommandsReceived,
    long CommandsIgnored,
    IReadOnlyList<string> PumpsOn,
    double? MinHumidity,
    double? AverageHumidity)
{
    const int MaxPumpNamesShown = 6;

    /// <summary>One line, e.g. <c>sensors 20/20 | pumps 5/5 | readings 240 (failed 0) | commands 2 (ignored 0) | ON: pump-002 | humidity min 34.1 avg 47.5</c>.</summary>
    public string ToStatusLine()
    {
        var line = new StringBuilder();
        line.Append(CultureInfo.InvariantCulture, $"sensors {SensorsConnected}/{Sensors} | pumps {PumpsConnected}/{Pumps}");
        line.Append(CultureInfo.InvariantCulture, $" | readings {ReadingsSent} (failed {ReadingsFailed})");
        line.Append(CultureInfo.InvariantCulture, $" | commands {CommandsReceived} (ignored {CommandsIgnored})");
        line.Append(" | ON: ");
        if (PumpsOn.Count == 0)
        {
            line.Append('-');
        }
        else
        {
            line.AppendJoin(',', PumpsOn.Take(MaxPumpNamesShown));
            if (PumpsOn.Count > MaxPumpNamesShown)
            {
                line.Append(CultureInfo.InvariantCulture, $" +{PumpsOn.Count - MaxPumpNamesShown}");
            }
        }
        line.Append(MinHumidity is { } min && AverageHumidity is { } avg
            ? string.Create(CultureInfo.InvariantCulture, $" | humidity min {min:0.0} avg {avg:0.0}")
            : " | humidity -");
        return line.ToString();
    }
}
