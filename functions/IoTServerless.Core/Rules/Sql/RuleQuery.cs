using System.Text.Json;

namespace IoTServerless.Core.Rules.Sql;

/// <summary>
/// One rule's SQL (version 2016-03-23), parsed and compiled once: evaluation neither re-parses nor
/// reflects per message. Thread-safe: one instance serves concurrent evaluations.
/// </summary>
/// <remarks>
/// Payload fields are read with one <see cref="Utf8JsonReader"/> pass over the top level that materialises only
/// the fields the WHERE clause reads (then, when it matched, those the SELECT reads); the whole payload is parsed
/// only for <c>*</c> merges other than a leading <c>*</c>.
/// </remarks>
public sealed class RuleQuery
{
    public const string SqlVersion = "2016-03-23";

    enum OutputMode
    {
        /// <summary><c>SELECT *</c>: the payload as it came.</summary>
        RawPayload,

        /// <summary>SELECT VALUE expr.</summary>
        Value,

        /// <summary>Distinct named expressions written straight to the output.</summary>
        Fields,

        /// <summary><c>SELECT *, expr AS a, …</c>: the payload's properties streamed, then the expressions.</summary>
        LeadingStar,

        /// <summary>Anything else: merged into an object first.</summary>
        Merged,
    }

    readonly Expr? _where;
    readonly SelectItem[] _items;
    readonly JsonEncodedText[] _encodedNames;
    readonly byte[][] _utf8Names;
    readonly int[] _rawFieldSlots;
    readonly OutputMode _mode;
    readonly FieldSet _fields;
    readonly int[] _whereSlots;
    readonly int[] _selectSlots;
    readonly int[] _allSlots;
    readonly ShadowCallExpr[] _shadowCalls;
    readonly bool _whereNeedsShadows;

    RuleQuery(string sql, ParsedStatement statement)
    {
        Sql = sql;
        TopicFilter = statement.TopicFilter;
        _where = statement.Where;
        _items = [.. statement.Items];
        _shadowCalls = [.. statement.ShadowCalls];
        NeedsServices = _shadowCalls.Length > 0;
        _whereNeedsShadows = _where is not null && _where.DescendantsAndSelf().Any(e => e is ShadowCallExpr);

        var selectRoots = _items.Where(i => i.Expression is not null).Select(i => i.Expression!).ToList();
        var allFields = selectRoots.Concat(_where is null ? [] : [_where]).SelectMany(e => e.DescendantsAndSelf()).OfType<FieldExpr>().ToList();
        var names = allFields.Select(f => f.Name).Distinct(StringComparer.Ordinal).ToList();
        foreach (var field in allFields)
        {
            field.Slot = names.IndexOf(field.Name);
        }
        _fields = new FieldSet(names);
        _whereSlots = SlotsOf(_where is null ? [] : [_where]);
        _selectSlots = SlotsOf(selectRoots);
        _allSlots = [.. Enumerable.Range(0, names.Count)];

        _encodedNames = [.. _items.Select(i => JsonEncodedText.Encode(i.Name, SqlJson.WriterOptions.Encoder))];
        _utf8Names = [.. _items.Select(i => System.Text.Encoding.UTF8.GetBytes(i.Name))];
        _rawFieldSlots = [.. _items.Select(i => i.Expression is FieldExpr field ? field.Slot : -1)];
        var namedItems = _items.Where(i => i.Kind == SelectItemKind.Expression).ToList();
        var distinctNames = namedItems.Select(i => i.Name).Distinct(StringComparer.Ordinal).Count() == namedItems.Count;
        _mode = statement.SelectValue ? OutputMode.Value
            : _items.Length == 1 && _items[0].Kind == SelectItemKind.Star ? OutputMode.RawPayload
            : namedItems.Count == _items.Length && distinctNames ? OutputMode.Fields
            : _items[0].Kind == SelectItemKind.Star && namedItems.Count == _items.Length - 1 && distinctNames ? OutputMode.LeadingStar
            : OutputMode.Merged;
    }

    static int[] SlotsOf(IEnumerable<Expr> roots) =>
        [.. roots.SelectMany(e => e.DescendantsAndSelf()).OfType<FieldExpr>().Select(f => f.Slot).Distinct().Order()];

    public string Sql { get; }

    /// <summary>The FROM topic filter.</summary>
    public string TopicFilter { get; }

    /// <summary>True when the query calls a function that needs <see cref="IRuleFunctionServices"/> (get_thing_shadow).</summary>
    public bool NeedsServices { get; }

    /// <summary>Parses and compiles; throws <see cref="RuleSqlException"/> with the line and column of the problem.</summary>
    public static RuleQuery Compile(string sql)
    {
        ArgumentNullException.ThrowIfNull(sql);
        return new RuleQuery(sql, SqlParser.ParseStatement(sql));
    }

    /// <summary>
    /// WHERE then SELECT over one message. Not matched when WHERE is not true (false, Undefined or a
    /// type error). Use only when <see cref="NeedsServices"/> is false.
    /// </summary>
    public RuleEvaluation Evaluate(in RuleMessage message)
    {
        if (NeedsServices)
        {
            throw new InvalidOperationException("This query calls get_thing_shadow: use EvaluateAsync.");
        }
        return Run(message, null);
    }

    /// <summary>
    /// The WHERE clause alone (true when there is none): the hot filter, reading only the payload fields
    /// WHERE uses and allocating nothing for numeric and boolean fields.
    /// </summary>
    public bool Matches(in RuleMessage message)
    {
        if (_where is null)
        {
            return true;
        }
        if (_whereNeedsShadows)
        {
            throw new InvalidOperationException("This query's WHERE calls get_thing_shadow: use EvaluateAsync.");
        }
        var context = EvalContext.Rent(message, _fields);
        try
        {
            return WhereHolds(context);
        }
        finally
        {
            EvalContext.Return(context);
        }
    }

    /// <summary>Like <see cref="Evaluate"/>, for queries that call get_thing_shadow: the shadows named by the message are fetched first, then the query runs synchronously over them.</summary>
    public async ValueTask<RuleEvaluation> EvaluateAsync(RuleMessage message, IRuleFunctionServices services, CancellationToken cancellationToken)
    {
        if (!NeedsServices)
        {
            return Run(message, null);
        }
        ArgumentNullException.ThrowIfNull(services);
        if (_where is not null && !_whereNeedsShadows && !Matches(message))
        {
            return RuleEvaluation.NotMatched;
        }
        var requests = ShadowRequests(message);
        var shadows = new SqlValue[requests.Length];
        for (var i = 0; i < requests.Length; i++)
        {
            var (thing, shadow) = requests[i];
            if (thing is null)
            {
                continue;
            }
            var earlier = Array.FindIndex(requests, 0, i, r => r == requests[i]);
            if (earlier >= 0)
            {
                shadows[i] = shadows[earlier];
                continue;
            }
            var document = await services.GetThingShadowAsync(thing, shadow, cancellationToken).ConfigureAwait(false);
            shadows[i] = document is { } element ? SqlJson.FromElement(element) : SqlValue.Undefined;
        }
        return Run(message, shadows);
    }

    (string? Thing, string? Shadow)[] ShadowRequests(in RuleMessage message)
    {
        var context = EvalContext.Rent(message, _fields);
        try
        {
            context.Fill(_allSlots);
            var requests = new (string?, string?)[_shadowCalls.Length];
            for (var i = 0; i < _shadowCalls.Length; i++)
            {
                var call = _shadowCalls[i];
                var thing = call.Thing.Eval(context);
                string? shadowName = null;
                if (call.Shadow is not null)
                {
                    var shadow = call.Shadow.Eval(context);
                    if (shadow.Type != SqlType.String)
                    {
                        continue;
                    }
                    shadowName = shadow.StringValue;
                }
                if (thing.Type == SqlType.String && thing.StringValue.Length > 0)
                {
                    requests[i] = (thing.StringValue, shadowName);
                }
            }
            return requests;
        }
        finally
        {
            EvalContext.Return(context);
        }
    }

    RuleEvaluation Run(in RuleMessage message, SqlValue[]? shadows)
    {
        var context = EvalContext.Rent(message, _fields, shadows);
        try
        {
            if (_where is not null && !WhereHolds(context))
            {
                return RuleEvaluation.NotMatched;
            }
            if (_mode == OutputMode.RawPayload)
            {
                return new RuleEvaluation(true, message.Payload);
            }
            context.Fill(_selectSlots);
            return new RuleEvaluation(true, Output(context));
        }
        finally
        {
            EvalContext.Return(context);
        }
    }

    bool WhereHolds(EvalContext context)
    {
        context.Fill(_whereSlots);
        var result = _where!.Eval(context);
        return result.Type == SqlType.Boolean && result.BooleanValue;
    }

    byte[] Output(EvalContext context)
    {
        var output = EvalContext.RentOutput();
        try
        {
            var writer = output.Writer;
            switch (_mode)
            {
                case OutputMode.Value:
                    var value = _items[0].Expression!.Eval(context);
                    if (value.IsUndefined)
                    {
                        return [];
                    }
                    value.WriteTo(writer);
                    break;
                case OutputMode.Fields:
                    writer.WriteStartObject();
                    for (var i = 0; i < _items.Length; i++)
                    {
                        // A top-level payload field is copied as the payload wrote it (no number reformatting).
                        if (_rawFieldSlots[i] >= 0 && context.TryGetRaw(_rawFieldSlots[i], out var raw))
                        {
                            writer.WritePropertyName(_encodedNames[i]);
                            writer.WriteRawValue(raw, skipInputValidation: true);
                            continue;
                        }
                        var item = _items[i].Expression!.Eval(context);
                        if (!item.IsUndefined)
                        {
                            writer.WritePropertyName(_encodedNames[i]);
                            item.WriteTo(writer);
                        }
                    }
                    writer.WriteEndObject();
                    break;
                case OutputMode.LeadingStar:
                    if (!WriteLeadingStar(context, writer))
                    {
                        output.Reset();
                        WriteMerged(context, output.Writer);
                    }
                    break;
                default:
                    WriteMerged(context, writer);
                    break;
            }
            return output.ToArray();
        }
        finally
        {
            EvalContext.ReturnOutput(output);
        }
    }

    /// <summary>The payload's properties copied as they are (except those a defined item replaces), then the items; false when the payload is not a JSON object.</summary>
    bool WriteLeadingStar(EvalContext context, Utf8JsonWriter writer)
    {
        Span<bool> defined = stackalloc bool[_items.Length];
        var values = context.Items(_items.Length);
        for (var i = 1; i < _items.Length; i++)
        {
            values[i] = _items[i].Expression!.Eval(context);
            defined[i] = !values[i].IsUndefined;
        }
        var payload = context.Message.Payload.Span;
        try
        {
            var reader = new Utf8JsonReader(payload);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }
            writer.WriteStartObject();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var replaced = false;
                for (var i = 1; i < _items.Length; i++)
                {
                    if (defined[i] && reader.ValueTextEquals(_utf8Names[i]))
                    {
                        replaced = true;
                        break;
                    }
                }
                var name = reader.ValueIsEscaped ? null : payload.Slice((int)reader.TokenStartIndex + 1, reader.ValueSpan.Length);
                var escapedName = reader.ValueIsEscaped ? reader.GetString() : null;
                reader.Read();
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                if (replaced)
                {
                    continue;
                }
                if (escapedName is not null)
                {
                    writer.WritePropertyName(escapedName);
                }
                else
                {
                    writer.WritePropertyName(name);
                }
                writer.WriteRawValue(payload[start..(int)reader.BytesConsumed], skipInputValidation: true);
            }
            if (reader.Read())
            {
                return false;
            }
        }
        catch (JsonException)
        {
            return false;
        }
        for (var i = 1; i < _items.Length; i++)
        {
            if (defined[i])
            {
                writer.WritePropertyName(_encodedNames[i]);
                values[i].WriteTo(writer);
            }
        }
        writer.WriteEndObject();
        return true;
    }

    void WriteMerged(EvalContext context, Utf8JsonWriter writer)
    {
        var result = new SqlObject();
        foreach (var item in _items)
        {
            switch (item.Kind)
            {
                case SelectItemKind.Star:
                    Merge(result, context.Root);
                    break;
                case SelectItemKind.NestedStar:
                    Merge(result, item.Expression!.Eval(context));
                    break;
                default:
                    result.Set(item.Name, item.Expression!.Eval(context));
                    break;
            }
        }
        SqlValue.Object(result).WriteTo(writer);
    }

    static void Merge(SqlObject result, in SqlValue value)
    {
        if (value.Type != SqlType.Object)
        {
            return;
        }
        foreach (var (key, property) in value.ObjectValue.Properties)
        {
            result.Set(key, property);
        }
    }

    public override string ToString() => Sql;
}

/// <summary>
/// The result of a rule over one message: whether WHERE matched, and the SELECT output (UTF-8 JSON, or the raw
/// payload for SELECT * over a non-JSON payload). For a lone <c>SELECT *</c> the output is the message's
/// <see cref="RuleMessage.Payload"/> memory itself, not a copy; otherwise it is a fresh array.
/// </summary>
public readonly record struct RuleEvaluation(bool Matched, ReadOnlyMemory<byte> Output)
{
    public static RuleEvaluation NotMatched => default;
}
