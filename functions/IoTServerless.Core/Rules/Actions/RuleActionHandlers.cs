namespace IoTServerless.Core.Rules.Actions;

/// <summary>
/// The registered <see cref="IRuleActionHandler"/>s by <see cref="IRuleActionHandler.Kind"/>: every
/// handler registered in DI as an <see cref="IRuleActionHandler"/> plugs in (the last registration of a
/// kind wins).
/// </summary>
public sealed class RuleActionHandlers
{
    readonly Dictionary<string, IRuleActionHandler> _byKind = new(StringComparer.Ordinal);

    public RuleActionHandlers(IEnumerable<IRuleActionHandler> handlers)
    {
        foreach (var handler in handlers)
        {
            _byKind[handler.Kind] = handler;
        }
    }

    public IReadOnlyCollection<string> Kinds => _byKind.Keys;

    public IRuleActionHandler? Find(string kind) => _byKind.GetValueOrDefault(kind);
}
