using System.Globalization;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

// usage: IoTServerless.AllocReport TRACE.nettrace [FRAMES=4] [TOP=15]
var frames = 4;
var top = 15;
if (args.Length == 0 || args.Length > 1 && !int.TryParse(args[1], CultureInfo.InvariantCulture, out frames)
    || args.Length > 2 && !int.TryParse(args[2], CultureInfo.InvariantCulture, out top) || frames < 1 || top < 1)
{
    Console.Error.WriteLine("usage: IoTServerless.AllocReport TRACE.nettrace [FRAMES=4] [TOP=15] (FRAMES and TOP: positive numbers)");
    return 2;
}
if (!File.Exists(args[0]))
{
    Console.Error.WriteLine($"no such trace: {args[0]}");
    return 2;
}
string etlx;
try
{
    etlx = TraceLog.CreateFromEventPipeDataFile(args[0]);
}
catch (Exception e) when (e is IOException or InvalidOperationException or FormatException or EndOfStreamException or ArgumentException)
{
    Console.Error.WriteLine($"{args[0]} is not a readable dotnet-trace file: {e.Message}");
    return 1;
}
using var log = new TraceLog(etlx);
var byType = new Dictionary<string, long>(StringComparer.Ordinal);
var bySite = new Dictionary<string, long>(StringComparer.Ordinal);
long total = 0;
foreach (var traceEvent in log.Events)
{
    if (traceEvent is not GCAllocationTickTraceData tick)
    {
        continue;
    }
    total += tick.AllocationAmount64;
    byType[tick.TypeName] = byType.GetValueOrDefault(tick.TypeName) + tick.AllocationAmount64;
    var site = new List<string>();
    for (var stack = traceEvent.CallStack(); stack is not null && site.Count < frames; stack = stack.Caller)
    {
        var method = stack.CodeAddress.FullMethodName;
        // The async machinery and the runtime's helpers say nothing about who allocated.
        if (!string.IsNullOrEmpty(method) && !method.StartsWith("System.Runtime.CompilerServices.", StringComparison.Ordinal)
            && !method.StartsWith("System.Threading.ExecutionContext", StringComparison.Ordinal))
        {
            site.Add(Shorten(method));
        }
    }
    var key = $"{tick.TypeName} <= {string.Join(" < ", site)}";
    bySite[key] = bySite.GetValueOrDefault(key) + tick.AllocationAmount64;
}
if (total == 0)
{
    Console.Error.WriteLine("no AllocationTick events in the trace (providers: Microsoft-Windows-DotNETRuntime:0x40000001:5)");
    return 1;
}
Console.WriteLine($"sampled {total / 1e6:F1} MB");
Console.WriteLine("| % | type |");
Console.WriteLine("|---:|---|");
foreach (var (type, bytes) in byType.OrderByDescending(e => e.Value).Take(top))
{
    Console.WriteLine($"| {bytes * 100.0 / total:F1} | {type} |");
}
Console.WriteLine();
Console.WriteLine("| % | type <= allocating method < its callers |");
Console.WriteLine("|---:|---|");
foreach (var (site, bytes) in bySite.OrderByDescending(e => e.Value).Take(top))
{
    Console.WriteLine($"| {bytes * 100.0 / total:F1} | {site} |");
}
return 0;

// "Ns.Type+<Method>d__9.MoveNext()" -> "Ns.Type.Method"; parameters dropped.
static string Shorten(string method)
{
    var name = method.Split('(')[0];
    var start = name.IndexOf("+<", StringComparison.Ordinal);
    if (start >= 0 && name.IndexOf(">d__", start, StringComparison.Ordinal) is var end and > 0)
    {
        name = string.Concat(name.AsSpan(0, start), ".", name.AsSpan(start + 2, end - start - 2));
    }
    return name;
}
