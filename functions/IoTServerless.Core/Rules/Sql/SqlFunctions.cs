using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace IoTServerless.Core.Rules.Sql;

internal sealed record FunctionDef(int MinArgs, int MaxArgs, Func<string, Expr[], int, Expr> Build, bool AcceptsStar = false);

/// <summary>The built-in functions of AWS IoT SQL 2016-03-23 (Rules/Sql/README.md lists them and the deviations from AWS).</summary>
internal static class SqlFunctions
{
    static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(200);
    static readonly ConcurrentDictionary<string, Regex?> RegexCache = new(StringComparer.Ordinal);

    static readonly HashSet<string> CastTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        "String", "Nvarchar", "Text", "Ntext", "Varchar", "Int", "Integer", "Double", "Decimal", "Bool", "Boolean",
    };

    static readonly Dictionary<string, FunctionDef> Functions = Build();

    public static bool TryGet(string lowerName, out FunctionDef function) => Functions.TryGetValue(lowerName, out function!);

    public static bool IsCastType(string name) => CastTypes.Contains(name);

    public static IEnumerable<string> Names => Functions.Keys;

    static FunctionDef F0(Func<EvalContext, SqlValue> body) => new(0, 0, (n, a, p) => new Call0(n, body, p));

    static FunctionDef F1(Func<SqlValue, SqlValue> body) => new(1, 1, (n, a, p) => new Call1(n, a[0], body, p));

    static FunctionDef F2(Func<SqlValue, SqlValue, SqlValue> body) => new(2, 2, (n, a, p) => new Call2(n, a[0], a[1], body, p));

    static FunctionDef FN(int min, int max, Func<SqlValue[], EvalContext, SqlValue> body) => new(min, max, (n, a, p) => new CallN(n, a, body, p));

    static FunctionDef Math1(Func<double, double> body) =>
        F1(v => v.Type != SqlType.Boolean && v.TryToDecimal(out var d) ? SqlValue.Decimal(body(d)) : SqlValue.Undefined);

    static FunctionDef String1(Func<string, SqlValue> body) => F1(v => v.ToSqlString() is { } s ? body(s) : SqlValue.Undefined);

    static Dictionary<string, FunctionDef> Build()
    {
        var f = new Dictionary<string, FunctionDef>(StringComparer.Ordinal)
        {
            // Message context.
            ["topic"] = new(0, 1, (n, a, p) => a.Length == 0 ? new Call0(n, c => SqlValue.String(c.Message.Topic), p) : new Call1Context(n, a[0], Topic, p)),
            ["clientid"] = F0(c => SqlValue.String(c.Message.ClientId ?? "n/a")),
            ["principal"] = F0(c => SqlValue.String(c.Message.Principal)),
            ["timestamp"] = F0(c => SqlValue.Int(c.Message.Timestamp)),
            ["traceid"] = F0(c => SqlValue.String(c.Message.MessageId)),
            ["newuuid"] = F0(_ => SqlValue.String(Guid.NewGuid().ToString())),
            ["rand"] = F0(_ => SqlValue.Decimal(Random.Shared.NextDouble())),
            ["sql_version"] = F0(_ => SqlValue.String(RuleQuery.SqlVersion)),

            // Numbers.
            ["abs"] = F1(v => v.Type switch
            {
                SqlType.Int => v.IntValue == long.MinValue ? SqlValue.Decimal(-(double)long.MinValue) : SqlValue.Int(Math.Abs(v.IntValue)),
                SqlType.Decimal or SqlType.String when v.TryToDecimal(out var d) => SqlValue.Decimal(Math.Abs(d)),
                _ => SqlValue.Undefined,
            }),
            ["ceil"] = F1(v => ToIntWith(v, Math.Ceiling)),
            ["floor"] = F1(v => ToIntWith(v, Math.Floor)),
            ["round"] = F1(v => ToIntWith(v, d => Math.Round(d, MidpointRounding.AwayFromZero))),
            ["sign"] = F1(v => v.Type == SqlType.Int ? SqlValue.Int(Math.Sign(v.IntValue))
                : v.Type != SqlType.Boolean && v.TryToDecimal(out var d) ? SqlValue.Int(Math.Sign(d)) : SqlValue.Undefined),
            ["mod"] = F2((x, y) => ArithmeticExpr.Apply(ArithmeticOp.Modulo, x, y)),
            ["remainder"] = F2((x, y) => ArithmeticExpr.Apply(ArithmeticOp.Modulo, x, y)),
            ["power"] = F2((x, y) => Numbers(x, y, out var a, out var b) ? SqlValue.Decimal(Math.Pow(a, b)) : SqlValue.Undefined),
            ["atan2"] = F2((x, y) => Numbers(x, y, out var a, out var b) ? SqlValue.Decimal(Math.Atan2(a, b)) : SqlValue.Undefined),
            ["sqrt"] = Math1(Math.Sqrt),
            ["ln"] = Math1(Math.Log),
            ["log"] = Math1(Math.Log10),
            ["exp"] = Math1(Math.Exp),
            ["sin"] = Math1(Math.Sin),
            ["cos"] = Math1(Math.Cos),
            ["tan"] = Math1(Math.Tan),
            ["asin"] = Math1(Math.Asin),
            ["acos"] = Math1(Math.Acos),
            ["atan"] = Math1(Math.Atan),
            ["sinh"] = Math1(Math.Sinh),
            ["cosh"] = Math1(Math.Cosh),
            ["tanh"] = Math1(Math.Tanh),
            ["trunc"] = F2(Trunc),
            ["bitand"] = F2((x, y) => x.TryToInt(out var a) && y.TryToInt(out var b) ? SqlValue.Int(a & b) : SqlValue.Undefined),
            ["bitor"] = F2((x, y) => x.TryToInt(out var a) && y.TryToInt(out var b) ? SqlValue.Int(a | b) : SqlValue.Undefined),
            ["bitxor"] = F2((x, y) => x.TryToInt(out var a) && y.TryToInt(out var b) ? SqlValue.Int(a ^ b) : SqlValue.Undefined),
            ["bitnot"] = F1(x => x.TryToInt(out var a) ? SqlValue.Int(~a) : SqlValue.Undefined),
            ["nanvl"] = F2((x, y) => x.Type is SqlType.Undefined or SqlType.Null ? y : x),
            ["cast"] = new(2, 2, (n, a, p) => new Call2(n, a[0], a[1], Cast, p)),

            // Strings.
            ["concat"] = FN(0, int.MaxValue, (args, _) => Concat(args)),
            ["lower"] = String1(s => SqlValue.String(s.ToLowerInvariant())),
            ["upper"] = String1(s => SqlValue.String(s.ToUpperInvariant())),
            ["trim"] = String1(s => SqlValue.String(s.Trim())),
            ["ltrim"] = String1(s => SqlValue.String(s.TrimStart())),
            ["rtrim"] = String1(s => SqlValue.String(s.TrimEnd())),
            ["length"] = String1(s => SqlValue.Int(s.Length)),
            ["numbytes"] = String1(s => SqlValue.Int(Encoding.UTF8.GetByteCount(s))),
            ["substring"] = FN(2, 3, (args, _) => Substring(args)),
            ["startswith"] = F2((x, y) => x.ToSqlString() is { } a && y.ToSqlString() is { } b ? SqlValue.Bool(a.StartsWith(b, StringComparison.Ordinal)) : SqlValue.Undefined),
            ["endswith"] = F2((x, y) => x.ToSqlString() is { } a && y.ToSqlString() is { } b ? SqlValue.Bool(a.EndsWith(b, StringComparison.Ordinal)) : SqlValue.Undefined),
            ["indexof"] = F2((x, y) => x.ToSqlString() is { } a && y.ToSqlString() is { } b ? SqlValue.Int(a.IndexOf(b, StringComparison.Ordinal)) : SqlValue.Undefined),
            ["replace"] = FN(3, 3, (args, _) => args[0].ToSqlString() is { } s && args[1].ToSqlString() is { } from && args[2].ToSqlString() is { } to
                ? SqlValue.String(from.Length == 0 ? s : s.Replace(from, to, StringComparison.Ordinal)) : SqlValue.Undefined),
            ["lpad"] = F2((x, y) => Pad(x, y, left: true)),
            ["rpad"] = F2((x, y) => Pad(x, y, left: false)),
            ["chr"] = F1(x => x.Type != SqlType.Boolean && x.TryToInt(out var code) && code is >= 0 and <= 127 ? SqlValue.String(((char)code).ToString()) : SqlValue.Undefined),
            ["regexp_matches"] = F2((x, y) => x.ToSqlString() is { } s && Pattern(y) is { } r ? Guard(() => SqlValue.Bool(r.IsMatch(s))) : SqlValue.Undefined),
            ["regexp_replace"] = FN(3, 3, (args, _) => args[0].ToSqlString() is { } s && Pattern(args[1]) is { } r && args[2].ToSqlString() is { } to
                ? Guard(() => SqlValue.String(r.Replace(s, to))) : SqlValue.Undefined),
            ["regexp_substr"] = F2((x, y) => x.ToSqlString() is { } s && Pattern(y) is { } r
                ? Guard(() => r.Match(s) is { Success: true } m ? SqlValue.String(m.Value) : SqlValue.Undefined) : SqlValue.Undefined),

            // Values and collections.
            ["isnull"] = F1(x => SqlValue.Bool(x.Type == SqlType.Null)),
            ["isundefined"] = F1(x => SqlValue.Bool(x.IsUndefined)),
            ["get"] = new(2, 2, (n, a, p) => new Call2(n, a[0], a[1], Get, p), AcceptsStar: true),
            ["get_or_default"] = F2((x, y) => x.IsUndefined ? y : x),

            // Encoding and hashing.
            ["encode"] = new(2, 2, (n, a, p) => a[0] is StarExpr ? new EncodePayloadExpr(a[1], p) : new Call2(n, a[0], a[1], Encode, p), AcceptsStar: true),
            ["decode"] = F2(Decode),
            ["md5"] = String1(s => Hash(MD5.HashData, s)),
            ["sha1"] = String1(s => Hash(SHA1.HashData, s)),
            ["sha256"] = String1(s => Hash(SHA256.HashData, s)),
            ["sha384"] = String1(s => Hash(SHA384.HashData, s)),
            ["sha512"] = String1(s => Hash(SHA512.HashData, s)),

            // Time.
            ["parse_time"] = FN(2, 3, (args, _) => ParseTime(args)),

            // Shadows: built by the parser (fetched before evaluation).
            ["get_thing_shadow"] = new(2, 3, (n, a, p) => throw new InvalidOperationException("get_thing_shadow is built by the parser")),
        };
        return f;
    }

    static SqlValue Guard(Func<SqlValue> body)
    {
        try
        {
            return body();
        }
        catch (RegexMatchTimeoutException)
        {
            return SqlValue.Undefined;
        }
        catch (ArgumentException)
        {
            return SqlValue.Undefined;
        }
    }

    static Regex? Pattern(in SqlValue value)
    {
        if (value.ToSqlString() is not { } pattern)
        {
            return null;
        }
        if (RegexCache.TryGetValue(pattern, out var cached))
        {
            return cached;
        }
        Regex? regex;
        try
        {
            regex = new Regex(pattern, RegexOptions.CultureInvariant, RegexTimeout);
        }
        catch (ArgumentException)
        {
            regex = null;
        }
        // Patterns usually are literals; a bounded cache keeps patterns taken from payloads from growing it forever.
        if (RegexCache.Count < MaxCachedPatterns)
        {
            RegexCache.TryAdd(pattern, regex);
        }
        return regex;
    }

    const int MaxCachedPatterns = 1024;

    static bool Numbers(in SqlValue x, in SqlValue y, out double a, out double b)
    {
        b = 0;
        return x.Type != SqlType.Boolean & y.Type != SqlType.Boolean & x.TryToDecimal(out a) && y.TryToDecimal(out b);
    }

    static SqlValue ToIntWith(in SqlValue value, Func<double, double> round)
    {
        if (value.Type == SqlType.Int)
        {
            return value;
        }
        if (value.Type is SqlType.Decimal or SqlType.String && value.TryToDecimal(out var d))
        {
            var r = round(d);
            return r is >= long.MinValue and < long.MaxValue ? SqlValue.Int((long)r) : SqlValue.Decimal(r);
        }
        return SqlValue.Undefined;
    }

    static SqlValue Trunc(SqlValue x, SqlValue y)
    {
        if (x.Type == SqlType.Int && y.IsNumber)
        {
            return x;
        }
        if (x.Type == SqlType.Boolean || !x.TryToDecimal(out var d) || !y.IsNumber || !y.TryToInt(out var places))
        {
            return SqlValue.Undefined;
        }
        places = Math.Clamp(places, 0, 15);
        if (Math.Abs(d) >= 7.9e27)
        {
            return SqlValue.Decimal(Math.Truncate(d));
        }
        var truncated = (double)Math.Round((decimal)d, (int)places, MidpointRounding.ToZero);
        return truncated == Math.Floor(truncated) && Math.Abs(truncated) < 9e15 ? SqlValue.Int((long)truncated) : SqlValue.Decimal(truncated);
    }

    /// <summary>cast(value AS type) as AWS documents it for 2016-03-23 (whole Decimals cast to Decimal come out as Int).</summary>
    static SqlValue Cast(SqlValue value, SqlValue type)
    {
        switch (type.StringValue)
        {
            case "int" or "integer":
                return value.Type == SqlType.Boolean ? SqlValue.Int(value.BooleanValue ? 1 : 0)
                    : value.TryToInt(out var i) ? SqlValue.Int(i) : SqlValue.Undefined;
            case "decimal" or "double":
                if (value.Type == SqlType.Boolean)
                {
                    return SqlValue.Decimal(value.BooleanValue ? 1 : 0);
                }
                if (value.Type == SqlType.Int)
                {
                    return value;
                }
                return value.TryToDecimal(out var d) ? SqlValue.Decimal(d) : SqlValue.Undefined;
            case "bool" or "boolean":
                return value.Type switch
                {
                    SqlType.Boolean => value,
                    SqlType.Int => SqlValue.Bool(value.IntValue != 0),
                    SqlType.Decimal => SqlValue.Bool(value.DecimalValue != 0),
                    SqlType.String when value.TryToBoolean(out var b) => SqlValue.Bool(b),
                    _ => SqlValue.Undefined,
                };
            default:
                return SqlValue.String(value.ToSqlString());
        }
    }

    static SqlValue Concat(SqlValue[] args)
    {
        if (args.Length == 0)
        {
            return SqlValue.Undefined;
        }
        if (args.Length == 1)
        {
            return args[0];
        }
        if (args.Any(a => a.Type == SqlType.Array))
        {
            var items = new List<SqlValue>();
            foreach (var arg in args)
            {
                if (arg.Type == SqlType.Array)
                {
                    items.AddRange(arg.ArrayValue);
                }
                else if (!arg.IsUndefined)
                {
                    items.Add(arg);
                }
            }
            return SqlValue.Array([.. items]);
        }
        var builder = new StringBuilder();
        foreach (var arg in args)
        {
            if (arg.ToSqlString() is not { } s)
            {
                return SqlValue.Undefined;
            }
            builder.Append(s);
        }
        return SqlValue.String(builder.ToString());
    }

    static SqlValue Substring(SqlValue[] args)
    {
        if (args[0].ToSqlString() is not { } s || args[1].Type == SqlType.Boolean || !args[1].TryToInt(out var start))
        {
            return SqlValue.Undefined;
        }
        long end = s.Length;
        if (args.Length == 3 && (args[2].Type == SqlType.Boolean || !args[2].TryToInt(out end)))
        {
            return SqlValue.Undefined;
        }
        start = Math.Clamp(start, 0, s.Length);
        end = Math.Clamp(end, 0, s.Length);
        return SqlValue.String(start >= end ? "" : s[(int)start..(int)end]);
    }

    static SqlValue Pad(SqlValue x, SqlValue y, bool left)
    {
        if (x.ToSqlString() is not { } s || y.Type == SqlType.Boolean || !y.TryToInt(out var count))
        {
            return SqlValue.Undefined;
        }
        var spaces = new string(' ', (int)Math.Clamp(count, 0, 1000));
        return SqlValue.String(left ? spaces + s : s + spaces);
    }

    /// <summary>get(array|string, index) and get(object, key).</summary>
    public static SqlValue Get(SqlValue collection, SqlValue key)
    {
        switch (collection.Type)
        {
            case SqlType.Array:
                if (key.Type == SqlType.Boolean || !key.TryToInt(out var i))
                {
                    return SqlValue.Undefined;
                }
                var items = collection.ArrayValue;
                return i >= 0 && i < items.Length ? items[i] : SqlValue.Undefined;
            case SqlType.String:
                if (key.Type == SqlType.Boolean || !key.TryToInt(out var c))
                {
                    return SqlValue.Undefined;
                }
                var s = collection.StringValue;
                return c >= 0 && c < s.Length ? SqlValue.String(s[(int)c].ToString()) : SqlValue.Undefined;
            case SqlType.Object:
                return key.Type == SqlType.String ? collection.ObjectValue.Get(key.StringValue) : SqlValue.Undefined;
            default:
                return SqlValue.Undefined;
        }
    }

    static SqlValue Encode(SqlValue value, SqlValue scheme)
    {
        if (!IsBase64(scheme) || value.ToSqlString() is not { } s)
        {
            return SqlValue.Undefined;
        }
        return SqlValue.String(Convert.ToBase64String(Encoding.UTF8.GetBytes(s)));
    }

    static SqlValue Decode(SqlValue value, SqlValue scheme)
    {
        if (!IsBase64(scheme) || value.Type != SqlType.String)
        {
            return SqlValue.Undefined;
        }
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(value.StringValue);
        }
        catch (FormatException)
        {
            return SqlValue.Null;
        }
        var json = SqlJson.Parse(bytes);
        if (!json.IsUndefined)
        {
            return json;
        }
        try
        {
            return SqlValue.String(new UTF8Encoding(false, true).GetString(bytes));
        }
        catch (DecoderFallbackException)
        {
            return SqlValue.Null;
        }
    }

    public static bool IsBase64(in SqlValue scheme) =>
        scheme.Type == SqlType.String && scheme.StringValue.Equals("base64", StringComparison.OrdinalIgnoreCase);

    static SqlValue Hash(Func<byte[], byte[]> hash, string s) => SqlValue.String(Convert.ToHexStringLower(hash(Encoding.UTF8.GetBytes(s))));

    /// <summary>topic(n): the 1-based segment of the message's topic; Undefined when out of range.</summary>
    static SqlValue Topic(SqlValue index, EvalContext context)
    {
        if (index.Type == SqlType.Boolean || !index.TryToInt(out var n) || n < 1)
        {
            return SqlValue.Undefined;
        }
        var topic = context.Message.Topic.AsSpan();
        var segment = 1L;
        var start = 0;
        for (var i = 0; i <= topic.Length; i++)
        {
            if (i == topic.Length || topic[i] == '/')
            {
                if (segment == n)
                {
                    return SqlValue.String(topic[start..i].ToString());
                }
                segment++;
                start = i + 1;
            }
        }
        return SqlValue.Undefined;
    }

    static SqlValue ParseTime(SqlValue[] args)
    {
        if (args[0].Type != SqlType.String || args[1].Type == SqlType.Boolean || !args[1].TryToInt(out var millis))
        {
            return SqlValue.Undefined;
        }
        var zoneId = "UTC";
        if (args.Length == 3)
        {
            if (args[2].Type != SqlType.String)
            {
                return SqlValue.Undefined;
            }
            zoneId = args[2].StringValue;
        }
        if (JodaTime.FindZone(zoneId) is not { } zone || millis < -62135596800000L || millis > 253402300799999L)
        {
            return SqlValue.Undefined;
        }
        try
        {
            return JodaTime.Format(args[0].StringValue, millis, zone, zoneId) is { } text ? SqlValue.String(text) : SqlValue.Undefined;
        }
        catch (ArgumentOutOfRangeException)
        {
            return SqlValue.Undefined;
        }
    }
}

/// <summary>A one-argument function that also reads the message (topic(n)).</summary>
internal sealed class Call1Context(string name, Expr a, Func<SqlValue, EvalContext, SqlValue> body, int position) : CallExpr(name, [a], position)
{
    public override SqlValue Eval(EvalContext context) => body(a.Eval(context), context);
}

/// <summary>encode(*, 'base64'): the raw payload bytes, JSON or not.</summary>
internal sealed class EncodePayloadExpr(Expr scheme, int position) : CallExpr("encode", [new StarExpr(position), scheme], position)
{
    public override SqlValue Eval(EvalContext context) =>
        SqlFunctions.IsBase64(scheme.Eval(context)) ? SqlValue.String(Convert.ToBase64String(context.Message.Payload.Span)) : SqlValue.Undefined;
}
