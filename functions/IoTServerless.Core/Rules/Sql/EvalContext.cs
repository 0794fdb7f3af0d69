using System.Buffers;
using System.Text.Json;

namespace IoTServerless.Core.Rules.Sql;

/// <summary>The top-level payload fields a query reads, each with a slot in <see cref="EvalContext.Slots"/>.</summary>
internal sealed class FieldSet
{
    public FieldSet(IReadOnlyList<string> names)
    {
        Names = [.. names];
        Utf8Names = [.. names.Select(n => System.Text.Encoding.UTF8.GetBytes(n))];
    }

    public string[] Names { get; }

    public byte[][] Utf8Names { get; }

    public int Count => Names.Length;
}

/// <summary>
/// Per-evaluation state: the message, the payload fields read so far (one <see cref="Utf8JsonReader"/>
/// pass over the top level, materialising only the fields asked for), the lazily parsed whole payload,
/// and fetched shadows. One instance per thread is reused, so an evaluation allocates nothing of its own.
/// </summary>
internal sealed class EvalContext
{
    [ThreadStatic]
    static EvalContext? t_cached;

    FieldSet _fields = null!;
    bool[] _filled = [];
    int[] _rawStart = [];
    int[] _rawLength = [];
    int _pendingScan;
    SqlValue _root;
    bool _rootParsed;
    bool _notAnObject;

    public RuleMessage Message;

    public SqlValue[] Slots = [];

    public SqlValue[]? Shadows;

    SqlValue[] _items = new SqlValue[8];

    /// <summary>Scratch room for the SELECT items' values (cleared when the context is returned).</summary>
    public SqlValue[] Items(int count)
    {
        if (_items.Length < count)
        {
            _items = new SqlValue[count];
        }
        return _items;
    }

    /// <summary>The thread's context, prepared for one evaluation; give it back with <see cref="Return"/>.</summary>
    public static EvalContext Rent(in RuleMessage message, FieldSet fields, SqlValue[]? shadows = null)
    {
        var context = t_cached ?? new EvalContext();
        t_cached = null;
        context.Prepare(message, fields, shadows);
        return context;
    }

    public static void Return(EvalContext context)
    {
        context.Message = default;
        context.Shadows = null;
        context._root = default;
        Array.Clear(context.Slots);
        Array.Clear(context._items);
        t_cached = context;
    }

    void Prepare(in RuleMessage message, FieldSet fields, SqlValue[]? shadows)
    {
        Message = message;
        Shadows = shadows;
        _fields = fields;
        var count = fields.Count;
        if (Slots.Length < count)
        {
            Slots = new SqlValue[Math.Max(count, 8)];
            _filled = new bool[Slots.Length];
            _rawStart = new int[Slots.Length];
            _rawLength = new int[Slots.Length];
        }
        else
        {
            Array.Clear(_filled, 0, count);
            Array.Clear(_rawLength, 0, count);
        }
        _pendingScan = count;
        _rootParsed = false;
        _notAnObject = false;
        _root = default;
    }

    /// <summary>The whole payload as a value (Undefined when it is not JSON), parsed on first use.</summary>
    public SqlValue Root
    {
        get
        {
            if (!_rootParsed)
            {
                _root = SqlJson.Parse(Message.Payload.Span);
                _rootParsed = true;
            }
            return _root;
        }
    }

    /// <summary>Fills the given slots (those not filled yet) from the payload: missing fields are Undefined.</summary>
    public void Fill(int[] slots)
    {
        if (_pendingScan == 0 || slots.Length == 0)
        {
            return;
        }
        var wanted = 0;
        foreach (var slot in slots)
        {
            if (!_filled[slot])
            {
                wanted++;
            }
        }
        if (wanted == 0)
        {
            return;
        }
        if (_notAnObject)
        {
            MarkFilled(slots);
            return;
        }
        if (_rootParsed)
        {
            FillFromRoot(slots);
            return;
        }
        try
        {
            Scan(slots, wanted);
        }
        catch (JsonException)
        {
            // Not JSON: every field is Undefined.
            _notAnObject = true;
            foreach (var slot in slots)
            {
                Slots[slot] = default;
            }
        }
        MarkFilled(slots);
    }

    /// <summary>The field's JSON text exactly as in the payload, when the scan read it there.</summary>
    public bool TryGetRaw(int slot, out ReadOnlySpan<byte> json)
    {
        var length = _rawLength[slot];
        json = length > 0 ? Message.Payload.Span.Slice(_rawStart[slot], length) : default;
        return length > 0;
    }

    void MarkFilled(int[] slots)
    {
        foreach (var slot in slots)
        {
            if (!_filled[slot])
            {
                _filled[slot] = true;
                _pendingScan--;
            }
        }
    }

    void FillFromRoot(int[] slots)
    {
        var root = Root;
        foreach (var slot in slots)
        {
            if (!_filled[slot])
            {
                Slots[slot] = root.Type == SqlType.Object ? root.ObjectValue.Get(_fields.Names[slot]) : default;
            }
        }
        MarkFilled(slots);
    }

    void Scan(int[] slots, int wanted)
    {
        var reader = new Utf8JsonReader(Message.Payload.Span, new JsonReaderOptions { MaxDepth = 256 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            _notAnObject = true;
            return;
        }
        var names = _fields.Utf8Names;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var match = -1;
            foreach (var slot in slots)
            {
                if (!_filled[slot] && reader.ValueTextEquals(names[slot]))
                {
                    match = slot;
                    break;
                }
            }
            reader.Read();
            if (match < 0)
            {
                reader.Skip();
                continue;
            }
            var start = (int)reader.TokenStartIndex;
            Slots[match] = SqlJson.ReadValue(ref reader);
            _rawStart[match] = start;
            _rawLength[match] = (int)reader.BytesConsumed - start;
            _filled[match] = true;
            _pendingScan--;
            if (--wanted == 0)
            {
                return;
            }
        }
    }

    /// <summary>A buffer writer and JSON writer for the SELECT output, reused per thread.</summary>
    public static OutputBuffer RentOutput()
    {
        var output = t_output ?? new OutputBuffer();
        t_output = null;
        output.Reset();
        return output;
    }

    public static void ReturnOutput(OutputBuffer output) => t_output = output;

    [ThreadStatic]
    static OutputBuffer? t_output;

    internal sealed class OutputBuffer
    {
        public ArrayBufferWriter<byte> Buffer { get; } = new(512);

        public Utf8JsonWriter Writer { get; }

        public OutputBuffer() => Writer = new Utf8JsonWriter(Buffer, SqlJson.WriterOptions);

        public void Reset()
        {
            Buffer.ResetWrittenCount();
            Writer.Reset(Buffer);
        }

        public byte[] ToArray()
        {
            Writer.Flush();
            return Buffer.WrittenSpan.ToArray();
        }
    }
}
