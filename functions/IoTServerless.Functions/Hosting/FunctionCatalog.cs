using System.Reflection;
using Microsoft.Azure.Functions.Worker;

namespace IoTServerless.Functions.Hosting;

/// <summary>A function as declared by its attributes: the same facts the Functions SDK writes to functions.metadata.</summary>
public sealed record FunctionDescriptor(string Name, MethodInfo Method, HttpTriggerAttribute? Http, TimerTriggerAttribute? Timer)
{
    public ParameterInfo TriggerParameter => Method.GetParameters().Single(p => p.GetCustomAttribute<HttpTriggerAttribute>() is not null || p.GetCustomAttribute<TimerTriggerAttribute>() is not null);
}

/// <summary>Reads the <c>[Function]</c> methods of an assembly. Standalone mode serves exactly these.</summary>
public static class FunctionCatalog
{
    public static IReadOnlyList<FunctionDescriptor> Discover(Assembly assembly)
    {
        var functions = new List<FunctionDescriptor>();
        foreach (var type in assembly.GetTypes())
        {
            foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static))
            {
                var function = method.GetCustomAttribute<FunctionAttribute>();
                if (function is null)
                {
                    continue;
                }
                HttpTriggerAttribute? http = null;
                TimerTriggerAttribute? timer = null;
                foreach (var parameter in method.GetParameters())
                {
                    http ??= parameter.GetCustomAttribute<HttpTriggerAttribute>();
                    timer ??= parameter.GetCustomAttribute<TimerTriggerAttribute>();
                    var other = parameter.GetCustomAttributes().FirstOrDefault(a => a.GetType().Name.EndsWith("TriggerAttribute", StringComparison.Ordinal) && a is not HttpTriggerAttribute and not TimerTriggerAttribute);
                    if (other is not null)
                    {
                        throw new NotSupportedException($"Function {function.Name}: standalone mode has no host for {other.GetType().Name}.");
                    }
                }
                if (http is null && timer is null)
                {
                    throw new NotSupportedException($"Function {function.Name} has no HTTP or timer trigger.");
                }
                functions.Add(new FunctionDescriptor(function.Name, method, http, timer));
            }
        }
        return [.. functions.OrderBy(f => f.Name, StringComparer.Ordinal)];
    }
}
