using System.Text;
using IoTServerless.Core.Rules.Sql;
using static IoTServerless.Core.Tests.Rules.Sql.RuleSqlTestData;

namespace IoTServerless.Core.Tests.Rules.Sql;

/// <summary>Every built-in function, with the AWS documentation's examples where it has them.</summary>
public sealed class RuleSqlFunctionTests
{
    const string Payload = """{"i":-7,"d":2.5,"s":" Hello ","n":"12.7","b":true,"z":null,"arr":[1,2,3],"obj":{"a":"b"}}""";

    static string V(string expression) => Value(expression, Payload);

    [Fact]
    public void Context_functions_readTheMessage()
    {
        var message = Message(topic: "a/b/c", clientId: "dev-1", principal: "thumb", messageId: "trace-9");
        var output = Output("SELECT topic() AS t, topic(2) AS t2, clientid() AS c, principal() AS p, timestamp() AS ts, traceid() AS tr, sql_version() AS v FROM '#'", message);

        Assert.Equal($$"""{"t":"a/b/c","t2":"b","c":"dev-1","p":"thumb","ts":{{Timestamp}},"tr":"trace-9","v":"2016-03-23"}""", output);
    }

    [Fact]
    public void Context_functions_withoutClientIdOrPrincipal()
    {
        var output = Output("SELECT clientid() AS c, principal() AS p, traceid() AS tr FROM '#'", Message(clientId: null, principal: null, messageId: null));

        Assert.Equal("""{"c":"n/a"}""", output);
    }

    [Fact]
    public void Newuuid_isARandomVersion4Uuid()
    {
        var query = RuleQuery.Compile("SELECT VALUE newuuid() FROM '#'");
        var a = Encoding.UTF8.GetString(query.Evaluate(Message()).Output.Span).Trim('"');
        var b = Encoding.UTF8.GetString(query.Evaluate(Message()).Output.Span).Trim('"');

        Assert.True(Guid.TryParse(a, out var guid));
        Assert.Equal(4, guid.Version);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void Rand_isBetweenZeroAndOne()
    {
        var value = double.Parse(V("rand()"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(value, 0, 1);
    }

    [Theory]
    [InlineData("abs(-5)", "5")]
    [InlineData("abs(i)", "7")]
    [InlineData("abs(-2.5)", "2.5")]
    [InlineData("abs('-3')", "3")]
    [InlineData("abs(b)", "Undefined")]
    [InlineData("abs(z)", "Undefined")]
    [InlineData("ceil(1.2)", "2")]
    [InlineData("ceil(-1.2)", "-1")]
    [InlineData("ceil(n)", "13")]
    [InlineData("ceil(5)", "5")]
    [InlineData("floor(1.2)", "1")]
    [InlineData("floor(-1.2)", "-2")]
    [InlineData("floor('x')", "Undefined")]
    [InlineData("round(1.2)", "1")]
    [InlineData("round(1.5)", "2")]
    [InlineData("round(1.7)", "2")]
    [InlineData("round(-1.1)", "-1")]
    [InlineData("round(-1.5)", "-2")]
    [InlineData("round(n)", "13")]
    [InlineData("round(arr)", "Undefined")]
    [InlineData("sign(-7)", "-1")]
    [InlineData("sign(0)", "0")]
    [InlineData("sign(2.5)", "1")]
    [InlineData("mod(8, 3)", "2")]
    [InlineData("mod(-8, 3)", "-2")]
    [InlineData("mod(8.5, 2)", "0.5")]
    [InlineData("mod('9', 4)", "1")]
    [InlineData("mod('x', 4)", "Undefined")]
    [InlineData("remainder(8, 3)", "2")]
    [InlineData("power(2, 5)", "32")]
    [InlineData("power(4, 0.5)", "2")]
    [InlineData("power('2', '3')", "8")]
    [InlineData("power(b, 2)", "Undefined")]
    [InlineData("sqrt(9)", "3")]
    [InlineData("sqrt(2.25)", "1.5")]
    [InlineData("sqrt(-1)", "Undefined")]
    [InlineData("ln(1)", "0")]
    [InlineData("ln(0)", "Undefined")]
    [InlineData("log(100)", "2")]
    [InlineData("log('1000')", "3")]
    [InlineData("exp(0)", "1")]
    [InlineData("cos(0)", "1")]
    [InlineData("sin(0)", "0")]
    [InlineData("atan2(1, 0)", "1.5707963267948966")]
    [InlineData("acos(2)", "Undefined")]
    [InlineData("trunc(2.3123, 2)", "2.31")]
    [InlineData("trunc(2.888, 2)", "2.88")]
    [InlineData("trunc(2.3, 0)", "2")]
    [InlineData("trunc(-2.888, 1)", "-2.8")]
    [InlineData("bitand(13, 5)", "5")]
    [InlineData("bitor(8, 5)", "13")]
    [InlineData("bitxor(13, 5)", "8")]
    [InlineData("bitnot(13)", "-14")]
    [InlineData("nanvl(missing, 3)", "3")]
    [InlineData("nanvl(z, 3)", "3")]
    [InlineData("nanvl(8, 3)", "8")]
    [InlineData("trunc(1e30, 2)", "1E+30")]
    [InlineData("abs(-9223372036854775807 - 1)", "9.223372036854776E+18")]
    public void Math_functions(string expression, string expected) => Assert.Equal(expected, V(expression));

    [Theory]
    [InlineData("cast(n AS Int)", "12")]
    [InlineData("cast('-1.2' AS Integer)", "-2")]
    [InlineData("cast(2.9 AS Int)", "2")]
    [InlineData("cast(true AS Int)", "1")]
    [InlineData("cast(false AS Int)", "0")]
    [InlineData("cast('abc' AS Int)", "Undefined")]
    [InlineData("cast(arr AS Int)", "Undefined")]
    [InlineData("cast(3 AS Decimal)", "3")]
    [InlineData("cast('5E-1' AS Decimal)", "0.5")]
    [InlineData("cast(true AS Double)", "1")]
    [InlineData("cast('1.2.3' AS Decimal)", "Undefined")]
    [InlineData("cast(z AS Decimal)", "Undefined")]
    [InlineData("cast(2.5 AS String)", "\"2.5\"")]
    [InlineData("cast(42 AS varchar)", "\"42\"")]
    [InlineData("cast(true AS Text)", "\"true\"")]
    [InlineData("cast(arr AS String)", "\"[1,2,3]\"")]
    [InlineData("cast(obj AS String)", "\"{\\\"a\\\":\\\"b\\\"}\"")]
    [InlineData("cast(z AS String)", "Undefined")]
    [InlineData("cast('TRUE' AS Boolean)", "true")]
    [InlineData("cast('false' AS Bool)", "false")]
    [InlineData("cast('yes' AS Boolean)", "Undefined")]
    [InlineData("cast(0 AS Boolean)", "false")]
    [InlineData("cast(0.5 AS Boolean)", "true")]
    [InlineData("cast(missing AS String)", "Undefined")]
    public void Cast_convertsAsAwsDocuments(string expression, string expected) => Assert.Equal(expected, V(expression));

    [Theory]
    [InlineData("concat()", "Undefined")]
    [InlineData("concat(1)", "1")]
    [InlineData("concat('con', 'cat')", "\"concat\"")]
    [InlineData("concat(1, 'hello')", "\"1hello\"")]
    [InlineData("concat('he', 'is', 'man')", "\"heisman\"")]
    [InlineData("concat([1, 2, 3], 4)", "[1,2,3,4]")]
    [InlineData("concat([1, 2, 3], 'hello', [4, 5, 6])", "[1,2,3,\"hello\",4,5,6]")]
    [InlineData("concat('a', missing)", "Undefined")]
    [InlineData("lower('HELLO')", "\"hello\"")]
    [InlineData("lower(['HELLO'])", "\"[\\\"hello\\\"]\"")]
    [InlineData("upper('hello')", "\"HELLO\"")]
    [InlineData("upper(missing)", "Undefined")]
    [InlineData("trim(s)", "\"Hello\"")]
    [InlineData("ltrim(' h i ')", "\"h i \"")]
    [InlineData("rtrim(' h i ')", "\" h i\"")]
    [InlineData("trim(z)", "Undefined")]
    [InlineData("substring('012345', 0)", "\"012345\"")]
    [InlineData("substring('012345', 2)", "\"2345\"")]
    [InlineData("substring('012345', 2.745)", "\"2345\"")]
    [InlineData("substring(123, 2)", "\"3\"")]
    [InlineData("substring('012345', -1)", "\"012345\"")]
    [InlineData("substring(true, 1.2)", "\"rue\"")]
    [InlineData("substring('012345', 1, 3)", "\"12\"")]
    [InlineData("substring('012345', -50, 50)", "\"012345\"")]
    [InlineData("substring('012345', 3, 1)", "\"\"")]
    [InlineData("substring('012345', 'x')", "Undefined")]
    [InlineData("startswith('ranger', 'ran')", "true")]
    [InlineData("startswith('ranger', 'ger')", "false")]
    [InlineData("startswith(123, 12)", "true")]
    [InlineData("startswith(z, 'a')", "Undefined")]
    [InlineData("endswith('cat', 'at')", "true")]
    [InlineData("endswith('cat', missing)", "Undefined")]
    [InlineData("length('hi')", "2")]
    [InlineData("length(false)", "5")]
    [InlineData("length(missing)", "Undefined")]
    [InlineData("numbytes('€')", "3")]
    [InlineData("indexof('abcd', 'bc')", "1")]
    [InlineData("replace('abcd', 'bc', 'x')", "\"axd\"")]
    [InlineData("replace('abcdabcd', 'b', 'x')", "\"axcdaxcd\"")]
    [InlineData("replace(z, 'b', 'x')", "Undefined")]
    [InlineData("lpad('hello', 2)", "\"  hello\"")]
    [InlineData("rpad(1, 3)", "\"1   \"")]
    [InlineData("chr(65)", "\"A\"")]
    [InlineData("chr(300)", "Undefined")]
    [InlineData("regexp_matches('aaaa', 'a{2,}')", "true")]
    [InlineData("regexp_matches('aaaa', 'b')", "false")]
    [InlineData("regexp_matches('sensor-42', '^sensor-\\d+$')", "true")]
    [InlineData("regexp_matches('aaaa', '(')", "Undefined")]
    [InlineData("regexp_matches(z, 'a')", "Undefined")]
    [InlineData("regexp_replace('abcd', 'bc', 'x')", "\"axd\"")]
    [InlineData("regexp_replace('abcd', 'b(.*)d', '$1')", "\"ac\"")]
    [InlineData("regexp_substr('hihihello', 'hi')", "\"hi\"")]
    [InlineData("regexp_substr('hihihello', '(hi)*')", "\"hihi\"")]
    [InlineData("regexp_substr('abc', 'x')", "Undefined")]
    public void String_functions(string expression, string expected) => Assert.Equal(expected, V(expression));

    [Theory]
    [InlineData("isNull(z)", "true")]
    [InlineData("isNull(5)", "false")]
    [InlineData("isNull(missing)", "false")]
    [InlineData("isUndefined(missing)", "true")]
    [InlineData("isUndefined(floor(arr))", "true")]
    [InlineData("isUndefined(z)", "false")]
    [InlineData("isUndefined(5)", "false")]
    [InlineData("get(['a', 'b', 'c'], 1)", "\"b\"")]
    [InlineData("get(arr, '2')", "3")]
    [InlineData("get(arr, 3)", "Undefined")]
    [InlineData("get(arr, -1)", "Undefined")]
    [InlineData("get({'a': 'b'}, 'a')", "\"b\"")]
    [InlineData("get(obj, 'nope')", "Undefined")]
    [InlineData("get('abc', 0)", "\"a\"")]
    [InlineData("get('abc', 5)", "Undefined")]
    [InlineData("get(5, 0)", "Undefined")]
    [InlineData("get(*, 'd')", "2.5")]
    [InlineData("get_or_default(missing, 'dflt')", "\"dflt\"")]
    [InlineData("get_or_default(d, 'dflt')", "2.5")]
    [InlineData("encode('hello', 'base64')", "\"aGVsbG8=\"")]
    [InlineData("encode(d, 'base64')", "\"Mi41\"")]
    [InlineData("encode('hello', 'hex')", "Undefined")]
    [InlineData("decode('aGVsbG8=', 'base64')", "\"hello\"")]
    [InlineData("decode('eyAidGVtcGVyYXR1cmUiOiAzMyB9Cg==', 'base64').temperature", "33")]
    [InlineData("decode('%%%', 'base64')", "null")]
    [InlineData("md5('hello')", "\"5d41402abc4b2a76b9719d911017c592\"")]
    [InlineData("sha1('hello')", "\"aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d\"")]
    [InlineData("sha256('hello')", "\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\"")]
    [InlineData("sha256(missing)", "Undefined")]
    [InlineData("length(sha512('x'))", "128")]
    [InlineData("length(sha384('x'))", "96")]
    public void Value_collection_and_encoding_functions(string expression, string expected) => Assert.Equal(expected, V(expression));

    [Fact]
    public void EncodeStar_overJson_isTheRawPayloadInBase64() =>
        Assert.Equal($"\"{Convert.ToBase64String(Encoding.UTF8.GetBytes(Payload))}\"", V("encode(*, 'base64')"));

    [Theory]
    [InlineData("parse_time('yyyy-MM-dd HH:mm:ss.SSS', timestamp())", "\"2025-11-28 16:00:00.123\"")]
    [InlineData("parse_time('yyyy-MM-dd\\'T\\'HH:mm:ssZZ', 1764345600123)", "\"2025-11-28T16:00:00+00:00\"")]
    [InlineData("parse_time('yyyy', timestamp(), 'UTC')", "\"2025\"")]
    [InlineData("parse_time('EEE, dd MMM yy hh:mm a', timestamp())", "\"Fri, 28 Nov 25 04:00 PM\"")]
    [InlineData("parse_time('EEEE d MMMM yyyy, D', timestamp())", "\"Friday 28 November 2025, 332\"")]
    [InlineData("parse_time(\"yyyy.MM.dd G 'at' HH:mm:ss Z\", 100000000, \"America/Belize\")", "\"1970.01.01 AD at 21:46:40 -0600\"")]
    [InlineData("parse_time('HH:mm z', 0, 'Asia/Kolkata')", "\"05:30 +05:30\"")]
    [InlineData("parse_time('HH:mm z', 0)", "\"00:00 UTC\"")]
    [InlineData("parse_time('yyyy', timestamp(), 'Mars/Olympus')", "Undefined")]
    [InlineData("parse_time('yyyy qq', timestamp())", "Undefined")]
    [InlineData("parse_time('yyyy', 'soon')", "Undefined")]
    [InlineData("parse_time(5, timestamp())", "Undefined")]
    public void ParseTime_formatsWithJodaPatterns(string expression, string expected) => Assert.Equal(expected, V(expression));

    [Theory]
    [InlineData("topic(3)", "\"sensor-0042\"")]
    [InlineData("topic('2')", "\"sensor\"")]
    [InlineData("topic(1.9)", "\"farmA\"")]
    [InlineData("topic(5)", "Undefined")]
    [InlineData("topic(0)", "Undefined")]
    [InlineData("topic(missing)", "Undefined")]
    public void Topic_segment_isOneBased(string expression, string expected) => Assert.Equal(expected, V(expression));

    [Fact]
    public void Topic_emptySegments_areSegments() =>
        Assert.Equal("\"\"", Value("topic(2)", Payload, topic: "a//c"));

    [Fact]
    public void Functions_everyRegisteredFunctionHasATestHere()
    {
        var source = File.ReadAllText(Path.Combine(FindRepoRoot(), "tests/IoTServerless.Core.Tests/Rules/Sql/RuleSqlFunctionTests.cs"));
        var untested = new[]
        {
            "topic", "clientid", "principal", "timestamp", "traceid", "newuuid", "rand", "sql_version", "abs", "ceil", "floor", "round", "sign",
            "mod", "remainder", "power", "atan2", "sqrt", "ln", "log", "exp", "sin", "cos", "atan2", "trunc", "bitand", "bitor", "bitxor",
            "bitnot", "nanvl", "cast", "concat", "lower", "upper", "trim", "ltrim", "rtrim", "length", "numbytes", "substring", "startswith",
            "endswith", "indexof", "replace", "lpad", "rpad", "chr", "regexp_matches", "regexp_replace", "regexp_substr", "isnull",
            "isundefined", "get", "get_or_default", "encode", "decode", "md5", "sha1", "sha256", "sha384", "sha512", "parse_time",
        }.Where(name => !source.Contains(name + "(", StringComparison.OrdinalIgnoreCase));

        Assert.Empty(untested);
    }

    static string FindRepoRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "IoTServerless.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
