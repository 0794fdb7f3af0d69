namespace FarmSimulator.Simulation;

/// <summary>A pump's on/off state; an ON command runs it until a deadline. Thread-safe.</summary>
public sealed class Pump(string thingName)
{
    readonly Lock _lock = new();
    DateTimeOffset? _until;

    public string ThingName { get; } = thingName;

    /// <summary>Whether the pump runs at <paramref name="now"/> (false once the deadline has passed).</summary>
    public bool IsOn(DateTimeOffset now)
    {
        lock (_lock)
        {
            return _until is { } until && now < until;
        }
    }

    /// <summary>The deadline while on at <paramref name="now"/>, otherwise null.</summary>
    public DateTimeOffset? OnUntil(DateTimeOffset now)
    {
        lock (_lock)
        {
            return _until is { } until && now < until ? until : null;
        }
    }

    /// <summary>Applies a command; true when the state (on/off or the deadline) changed.</summary>
    public bool Apply(PumpCommand command, DateTimeOffset now)
    {
        lock (_lock)
        {
            var before = _until is { } until && now < until ? _until : null;
            _until = command.Kind == PumpCommandKind.On ? now + command.Duration : null;
            return before != _until;
        }
    }

    /// <summary>Turns the pump off when its deadline has passed; true exactly when that happened now.</summary>
    public bool Expire(DateTimeOffset now)
    {
        lock (_lock)
        {
            if (_until is { } until && now >= until)
            {
                _until = null;
                return true;
            }
            return false;
        }
    }
}
