namespace IoTServerless.Functions.Hosting;

/// <summary>Whether the process was started by the Azure Functions host or on its own (<c>dotnet run</c>).</summary>
public static class HostingMode
{
    /// <summary>Set to <c>standalone</c> or <c>functions</c> to override the detection.</summary>
    public const string OverrideVariable = "IOTSERVERLESS_HOSTING";

    // The host starts the worker with these (Functions host 4.x; older hosts use the second set).
    static readonly string[] HostArguments = ["--functions-uri", "--functions-worker-id", "--host", "--workerId"];

    public static bool IsFunctionsHost(string[] args)
    {
        var mode = Environment.GetEnvironmentVariable(OverrideVariable);
        if (!string.IsNullOrEmpty(mode))
        {
            return string.Equals(mode, "functions", StringComparison.OrdinalIgnoreCase);
        }
        return args.Any(a => HostArguments.Contains(a, StringComparer.OrdinalIgnoreCase))
            || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("Functions__Worker__HostEndpoint"));
    }
}
