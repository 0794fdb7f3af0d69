using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace IoTServerless.Core.Rules.Sql;

/// <summary>The AWS IoT SQL data types. Decimal is held as a double (AWS rounds most math to double precision anyway).</summary>
internal enum SqlType : byte
{
    Undefined,
    Null,
    Boolean,
    Int,
    Decimal,
    String,
    Array,
    Object,
}

/// <summary>One SQL value: a tagged union without boxing for the scalar types.</summary>
internal readonly struct SqlValue
{
    readonly object? _ref;
    readonly long _bits;

    public readonly SqlType Type;

    SqlValue(SqlType type, long bits, object? reference)
    {
        Type = type;
        _bits = bits;
        _ref = reference;
    }

    public static readonly SqlValue Undefined;
    public static readonly SqlValue Null = new(SqlType.Null, 0, null);
    public static readonly SqlValue True = new(SqlType.Boolean, 1, null);
    public static readonly SqlValue False = new(SqlType.Boolean, 0, null);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static SqlValue Bool(bool value) => value ? True : False;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static SqlValue Int(long value) => new(SqlType.Int, value, null);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static SqlValue Decimal(double value) =>
        double.IsFinite(value) ? new(SqlType.Decimal, BitConverter.DoubleToInt64Bits(value), null) : Undefined;

    public static SqlValue String(string? value) => value is null ? Undefined : new(SqlType.String, 0, value);

    public static SqlValue Array(SqlValue[] items) => new(SqlType.Array, 0, items);

    public static SqlValue Object(SqlObject value) => new(SqlType.Object, 0, value);

    public bool IsUndefined => Type == SqlType.Undefined;

    public bool IsNumber => Type is SqlType.Int or SqlType.Decimal;

    public bool BooleanValue => _bits != 0;

    public long IntValue => _bits;

    public double DecimalValue => BitConverter.Int64BitsToDouble(_bits);

    public string StringValue => (string)_ref!;

    public SqlValue[] ArrayValue => (SqlValue[])_ref!;

    public SqlObject ObjectValue => (SqlObject)_ref!;

    /// <summary>An Int or Decimal as a double.</summary>
    public double AsDouble => Type == SqlType.Int ? _bits : DecimalValue;

    /// <summary>The value as a Decimal: numbers, and strings that parse as AWS decimals.</summary>
    public bool TryToDecimal(out double value)
    {
        switch (Type)
        {
            case SqlType.Int:
                value = _bits;
                return true;
            case SqlType.Decimal:
                value = DecimalValue;
                return true;
            case SqlType.String:
                return TryParseDecimal(StringValue, out value);
            default:
                value = 0;
                return false;
        }
    }

    /// <summary>AWS's string to Decimal conversion: <c>^-?\d+(\.\d+)?((?i)E-?\d+)?$</c> (leading/trailing blanks tolerated).</summary>
    public static bool TryParseDecimal(string text, out double value)
    {
        var s = text.AsSpan().Trim();
        value = 0;
        if (s.IsEmpty)
        {
            return false;
        }
        var i = 0;
        if (s[i] is '-' or '+')
        {
            i++;
        }
        var digits = 0;
        while (i < s.Length && char.IsAsciiDigit(s[i]))
        {
            i++;
            digits++;
        }
        if (digits == 0)
        {
            return false;
        }
        if (i < s.Length && s[i] == '.')
        {
            i++;
            var fraction = 0;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                i++;
                fraction++;
            }
            if (fraction == 0)
            {
                return false;
            }
        }
        if (i < s.Length && s[i] is 'e' or 'E')
        {
            i++;
            if (i < s.Length && s[i] is '-' or '+')
            {
                i++;
            }
            var exponent = 0;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                i++;
                exponent++;
            }
            if (exponent == 0)
            {
                return false;
            }
        }
        return i == s.Length && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);
    }

    /// <summary>To Int, rounding Decimals (and numeric strings) down, as AWS's Int conversions do.</summary>
    public bool TryToInt(out long value)
    {
        switch (Type)
        {
            case SqlType.Int:
                value = _bits;
                return true;
            case SqlType.Decimal:
            case SqlType.String:
                if (TryToDecimal(out var d))
                {
                    var floor = Math.Floor(d);
                    if (floor is >= long.MinValue and < long.MaxValue)
                    {
                        value = (long)floor;
                        return true;
                    }
                }
                value = 0;
                return false;
            default:
                value = 0;
                return false;
        }
    }

    /// <summary>Boolean, or the case-insensitive strings "true"/"false" (the logical operators' operands).</summary>
    public bool TryToBoolean(out bool value)
    {
        switch (Type)
        {
            case SqlType.Boolean:
                value = BooleanValue;
                return true;
            case SqlType.String when StringValue.Equals("true", StringComparison.OrdinalIgnoreCase):
                value = true;
                return true;
            case SqlType.String when StringValue.Equals("false", StringComparison.OrdinalIgnoreCase):
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }

    /// <summary>The standard string conversion: strings as is, numbers and booleans as text, arrays and objects as JSON; Null and Undefined have none.</summary>
    public string? ToSqlString() => Type switch
    {
        SqlType.String => StringValue,
        SqlType.Int => _bits.ToString(CultureInfo.InvariantCulture),
        SqlType.Decimal => FormatDecimal(DecimalValue),
        SqlType.Boolean => BooleanValue ? "true" : "false",
        SqlType.Array or SqlType.Object => ToJson(),
        _ => null,
    };

    public static string FormatDecimal(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    public string ToJson()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(64);
        using (var writer = new Utf8JsonWriter(buffer, SqlJson.WriterOptions))
        {
            WriteTo(writer);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Writes the value as JSON; Undefined is written as null (callers leave Undefined out before).</summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        switch (Type)
        {
            case SqlType.Boolean:
                writer.WriteBooleanValue(BooleanValue);
                break;
            case SqlType.Int:
                writer.WriteNumberValue(_bits);
                break;
            case SqlType.Decimal:
                writer.WriteNumberValue(DecimalValue);
                break;
            case SqlType.String:
                writer.WriteStringValue(StringValue);
                break;
            case SqlType.Array:
                writer.WriteStartArray();
                foreach (var item in ArrayValue)
                {
                    if (!item.IsUndefined)
                    {
                        item.WriteTo(writer);
                    }
                }
                writer.WriteEndArray();
                break;
            case SqlType.Object:
                writer.WriteStartObject();
                foreach (var (key, value) in ObjectValue.Properties)
                {
                    if (!value.IsUndefined)
                    {
                        writer.WritePropertyName(key);
                        value.WriteTo(writer);
                    }
                }
                writer.WriteEndObject();
                break;
            default:
                writer.WriteNullValue();
                break;
        }
    }

    /// <summary>The = operator: Undefined when either side is; numbers compared as decimals; mismatched types are not equal.</summary>
    public static SqlValue EqualsOperator(in SqlValue left, in SqlValue right)
    {
        if (left.IsUndefined || right.IsUndefined)
        {
            return Undefined;
        }
        return Bool(DeepEquals(left, right));
    }

    public static bool DeepEquals(in SqlValue left, in SqlValue right)
    {
        if (left.Type == SqlType.Int && right.Type == SqlType.Int)
        {
            return left._bits == right._bits;
        }
        if (left.IsNumber && right.IsNumber)
        {
            return left.AsDouble == right.AsDouble;
        }
        if (left.Type != right.Type)
        {
            return false;
        }
        switch (left.Type)
        {
            case SqlType.Null:
            case SqlType.Undefined:
                return true;
            case SqlType.Boolean:
                return left.BooleanValue == right.BooleanValue;
            case SqlType.String:
                return string.Equals(left.StringValue, right.StringValue, StringComparison.Ordinal);
            case SqlType.Array:
                var a = left.ArrayValue;
                var b = right.ArrayValue;
                if (a.Length != b.Length)
                {
                    return false;
                }
                for (var i = 0; i < a.Length; i++)
                {
                    if (!DeepEquals(a[i], b[i]))
                    {
                        return false;
                    }
                }
                return true;
            case SqlType.Object:
                var x = left.ObjectValue;
                var y = right.ObjectValue;
                if (x.DefinedCount != y.DefinedCount)
                {
                    return false;
                }
                foreach (var (key, value) in x.Properties)
                {
                    if (value.IsUndefined)
                    {
                        continue;
                    }
                    var other = y.Get(key);
                    if (other.IsUndefined || !DeepEquals(value, other))
                    {
                        return false;
                    }
                }
                return true;
            default:
                return false;
        }
    }

    public override string ToString() => Type switch
    {
        SqlType.Undefined => "Undefined",
        SqlType.Null => "null",
        SqlType.String => ToJson(),
        _ => ToSqlString() ?? "",
    };
}

/// <summary>A JSON object as the SQL sees it: ordered properties, a later Set of a key replacing its value in place.</summary>
internal sealed class SqlObject
{
    readonly List<KeyValuePair<string, SqlValue>> _properties;

    public SqlObject(int capacity = 4) => _properties = new(capacity);

    public List<KeyValuePair<string, SqlValue>> Properties => _properties;

    public int DefinedCount
    {
        get
        {
            var count = 0;
            foreach (var property in _properties)
            {
                if (!property.Value.IsUndefined)
                {
                    count++;
                }
            }
            return count;
        }
    }

    public SqlValue Get(string key)
    {
        foreach (var property in _properties)
        {
            if (string.Equals(property.Key, key, StringComparison.Ordinal))
            {
                return property.Value;
            }
        }
        return SqlValue.Undefined;
    }

    /// <summary>Sets a key; an Undefined value leaves the object as it is.</summary>
    public void Set(string key, SqlValue value)
    {
        if (value.IsUndefined)
        {
            return;
        }
        for (var i = 0; i < _properties.Count; i++)
        {
            if (string.Equals(_properties[i].Key, key, StringComparison.Ordinal))
            {
                _properties[i] = new(key, value);
                return;
            }
        }
        _properties.Add(new(key, value));
    }

    /// <summary>Appends without looking for the key (a fresh object being read from JSON).</summary>
    public void Add(string key, SqlValue value) => _properties.Add(new(key, value));
}

/// <summary>Reading JSON into <see cref="SqlValue"/>s.</summary>
internal static class SqlJson
{
    public static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    /// <summary>Reads the value at the reader's current token (which must be a value's first token), leaving the reader on its last token.</summary>
    public static SqlValue ReadValue(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return SqlValue.String(reader.GetString());
            case JsonTokenType.Number:
                return ReadNumber(ref reader);
            case JsonTokenType.True:
                return SqlValue.True;
            case JsonTokenType.False:
                return SqlValue.False;
            case JsonTokenType.Null:
                return SqlValue.Null;
            case JsonTokenType.StartArray:
                var items = new List<SqlValue>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    items.Add(ReadValue(ref reader));
                }
                return SqlValue.Array([.. items]);
            case JsonTokenType.StartObject:
                var obj = new SqlObject();
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var key = reader.GetString()!;
                    reader.Read();
                    obj.Add(key, ReadValue(ref reader));
                }
                return SqlValue.Object(obj);
            default:
                return SqlValue.Undefined;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static SqlValue ReadNumber(ref Utf8JsonReader reader)
    {
        var raw = reader.ValueSpan;
        if (raw.IndexOfAny((byte)'.', (byte)'e', (byte)'E') < 0 && reader.TryGetInt64(out var l))
        {
            return SqlValue.Int(l);
        }
        return SqlValue.Decimal(reader.GetDouble());
    }

    /// <summary>Parses a whole JSON text; Undefined when it is not JSON.</summary>
    public static SqlValue Parse(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty)
        {
            return SqlValue.Undefined;
        }
        try
        {
            var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 256 });
            if (!reader.Read())
            {
                return SqlValue.Undefined;
            }
            var value = ReadValue(ref reader);
            return reader.Read() ? SqlValue.Undefined : value;
        }
        catch (JsonException)
        {
            return SqlValue.Undefined;
        }
    }

    public static SqlValue FromElement(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return SqlValue.String(element.GetString());
            case JsonValueKind.Number:
                var raw = element.GetRawText();
                if (raw.AsSpan().IndexOfAny('.', 'e', 'E') < 0 && element.TryGetInt64(out var l))
                {
                    return SqlValue.Int(l);
                }
                return SqlValue.Decimal(element.GetDouble());
            case JsonValueKind.True:
                return SqlValue.True;
            case JsonValueKind.False:
                return SqlValue.False;
            case JsonValueKind.Null:
                return SqlValue.Null;
            case JsonValueKind.Array:
                var items = new SqlValue[element.GetArrayLength()];
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    items[i++] = FromElement(item);
                }
                return SqlValue.Array(items);
            case JsonValueKind.Object:
                var obj = new SqlObject();
                foreach (var property in element.EnumerateObject())
                {
                    obj.Add(property.Name, FromElement(property.Value));
                }
                return SqlValue.Object(obj);
            default:
                return SqlValue.Undefined;
        }
    }
}
