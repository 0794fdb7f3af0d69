using System.Globalization;

namespace FarmSimulator.Cli;

/// <summary>A usage error: bad or unknown option, missing value.</summary>
public sealed class CommandLineException : Exception
{
    public CommandLineException()
    {
    }

    public CommandLineException(string message)
        : base(message)
    {
    }

    public CommandLineException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Options of the form <c>--name value</c> (or <c>--name=value</c>), each at most once.</summary>
public sealed class CommandLineArguments
{
    readonly Dictionary<string, string> _values;

    CommandLineArguments(Dictionary<string, string> values) => _values = values;

    /// <summary>Parses <paramref name="args"/>, accepting only the option names in <paramref name="allowed"/>.</summary>
    public static CommandLineArguments Parse(IReadOnlyList<string> args, IReadOnlyCollection<string> allowed)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new CommandLineException($"Unexpected argument '{arg}'.");
            }
            string name;
            string value;
            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                name = arg[2..equals];
                value = arg[(equals + 1)..];
            }
            else
            {
                name = arg[2..];
                if (i + 1 >= args.Count)
                {
                    throw new CommandLineException($"Option --{name} needs a value.");
                }
                value = args[++i];
            }
            if (!allowed.Contains(name))
            {
                throw new CommandLineException($"Unknown option --{name}.");
            }
            if (!values.TryAdd(name, value))
            {
                throw new CommandLineException($"Option --{name} is given more than once.");
            }
        }
        return new CommandLineArguments(values);
    }

    public string GetString(string name, string defaultValue) => _values.GetValueOrDefault(name, defaultValue);

    public string GetRequiredString(string name)
        => _values.TryGetValue(name, out var value) && value.Length > 0 ? value : throw new CommandLineException($"Option --{name} is required.");

    public int GetInt32(string name, int defaultValue, int min, int max)
    {
        if (!_values.TryGetValue(name, out var text))
        {
            return defaultValue;
        }
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new CommandLineException($"Option --{name} must be an integer from {min} to {max}, not '{text}'.");
        }
        return value;
    }

    public double GetDouble(string name, double defaultValue, double min, double max)
    {
        if (!_values.TryGetValue(name, out var text))
        {
            return defaultValue;
        }
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value) || value < min || value > max)
        {
            throw new CommandLineException($"Option --{name} must be a number from {min} to {max}, not '{text}'.");
        }
        return value;
    }
}
