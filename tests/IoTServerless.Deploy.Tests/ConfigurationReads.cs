using System.Collections;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace IoTServerless.Deploy.Tests;

/// <summary>
/// The configuration keys an app reads, found from its real service registration: every options type of
/// ours that the registration configures is walked property by property under the configuration section
/// it is bound to (public settable properties; nested option classes recursively), and every key read
/// directly (<c>configuration["…"]</c>, <c>GetValue</c>) during registration and options resolution is
/// recorded. Options classes added later are picked up without editing the tests.
/// </summary>
sealed class ConfigurationReads
{
    /// <summary>Leaf keys read, with ':' separators (a collection is one key).</summary>
    public required IReadOnlySet<string> Keys { get; init; }

    /// <summary>Keys whose property has a usable default (non-null; strings non-empty), with that default.</summary>
    public required IReadOnlyDictionary<string, object> Defaults { get; init; }

    /// <summary>Records every key asked for. Added last, so it is asked first; it never answers.</summary>
    sealed class RecordingSource : ConfigurationProvider, IConfigurationSource
    {
        public HashSet<string> Reads { get; } = new(StringComparer.OrdinalIgnoreCase);

        public IConfigurationProvider Build(IConfigurationBuilder builder) => this;

        public override bool TryGet(string key, out string? value)
        {
            lock (Reads)
            {
                Reads.Add(key);
            }
            value = null;
            return false;
        }
    }

    public static ConfigurationReads Of(IConfigurationManager configuration, IServiceCollection services, Action register)
    {
        var recorder = new RecordingSource();
        configuration.Sources.Add(recorder);
        register();

        static bool Ours(Type t) => t.Namespace?.StartsWith("IoTServerless.", StringComparison.Ordinal) == true;
        var optionsTypes = services
            .Where(d => d.ServiceType.IsGenericType && d.ServiceType.GetGenericArguments().Length == 1 && d.ServiceType.Namespace == "Microsoft.Extensions.Options")
            .Select(d => d.ServiceType.GetGenericArguments()[0])
            .Where(Ours)
            .Distinct()
            .ToList();

        // Where each type is bound: the section of its change-token source (registered by Bind), and its SectionName.
        var sections = optionsTypes.ToDictionary(t => t, t => new HashSet<string>(StringComparer.OrdinalIgnoreCase));
        foreach (var descriptor in services.Where(d => d.ServiceType.IsGenericType && d.ServiceType.GetGenericTypeDefinition() == typeof(IOptionsChangeTokenSource<>) && d.ImplementationInstance is not null))
        {
            var type = descriptor.ServiceType.GetGenericArguments()[0];
            var config = descriptor.ImplementationInstance!.GetType().GetFields(BindingFlags.NonPublic | BindingFlags.Instance)
                .Select(f => f.GetValue(descriptor.ImplementationInstance)).OfType<IConfigurationSection>().FirstOrDefault();
            if (sections.TryGetValue(type, out var paths) && config is not null)
            {
                paths.Add(config.Path);
            }
        }
        foreach (var (type, paths) in sections)
        {
            if (type.GetField("SectionName", BindingFlags.Public | BindingFlags.Static)?.GetRawConstantValue() is string name)
            {
                paths.Add(name);
            }
        }

        // Resolving the options runs Configure callbacks too, which may read keys directly.
        using (var provider = services.BuildServiceProvider())
        {
            foreach (var type in optionsTypes)
            {
                var options = provider.GetService(typeof(IOptions<>).MakeGenericType(type));
                try
                {
                    _ = options?.GetType().GetProperty("Value")!.GetValue(options);
                }
                catch (TargetInvocationException)
                {
                    // Validation of required settings fails here by design; the reads happened before.
                }
            }
        }

        var keys = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var defaults = new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);
        foreach (var (type, paths) in sections)
        {
            if (type.GetConstructor(Type.EmptyTypes) is null)
            {
                continue;
            }
            foreach (var path in paths)
            {
                Walk(path, type, Activator.CreateInstance(type), keys, defaults);
            }
        }
        // Direct reads: recorded keys that are neither a walked key nor a section holding walked keys.
        foreach (var read in recorder.Reads)
        {
            if (!keys.Contains(read) && !keys.Any(k => k.StartsWith(read + ":", StringComparison.OrdinalIgnoreCase)))
            {
                keys.Add(read);
            }
        }
        return new ConfigurationReads { Keys = keys, Defaults = defaults };
    }

    static bool IsLeaf(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(Uri) || t == typeof(decimal) || t == typeof(TimeSpan)
            || t == typeof(DateTime) || t == typeof(DateTimeOffset) || t == typeof(Guid) || typeof(IEnumerable).IsAssignableFrom(t);
    }

    static void Walk(string prefix, Type type, object? instance, HashSet<string> keys, Dictionary<string, object> defaults)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length > 0)
            {
                continue;
            }
            var key = $"{prefix}:{property.Name}";
            var value = instance is null ? null : property.GetValue(instance);
            if (IsLeaf(property.PropertyType))
            {
                if (property.SetMethod is not { IsPublic: true })
                {
                    continue;
                }
                keys.Add(key);
                if (value is not null && value is not string { Length: 0 })
                {
                    defaults[key] = value;
                }
            }
            else if (property.SetMethod is { IsPublic: true } || value is not null)
            {
                Walk(key, property.PropertyType, value, keys, defaults);
            }
        }
    }
}
