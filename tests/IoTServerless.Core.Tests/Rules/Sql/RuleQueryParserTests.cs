using IoTServerless.Core.Rules.Sql;

namespace IoTServerless.Core.Tests.Rules.Sql;

/// <summary>What compiles, and bad SQL rejected with the line and column of the offending token.</summary>
public sealed class RuleQueryParserTests
{
    static RuleSqlException Reject(string sql) => Assert.Throws<RuleSqlException>(() => RuleQuery.Compile(sql));

    [Theory]
    [InlineData("SELECT temperature 'farmA/#'", 1, 20, "Expected FROM but found string 'farmA/#'")]
    [InlineData("SELECT * FROM 'a/b", 1, 15, "Unterminated string literal")]
    [InlineData("SELECT nosuch(a) FROM 'a'", 1, 8, "Unknown function 'nosuch'")]
    [InlineData("SELECT abs(1, 2) FROM 'a'", 1, 8, "Function 'abs' takes 1 argument(s), got 2")]
    [InlineData("SELECT substring('a') FROM 'a'", 1, 8, "Function 'substring' takes 2 to 3 argument(s), got 1")]
    [InlineData("SELECT * FROM 'a/#/b'", 1, 15, "Invalid topic filter 'a/#/b'")]
    [InlineData("SELECT * FROM 'a/b+'", 1, 15, "Invalid topic filter 'a/b+'")]
    [InlineData("SELECT * FROM ''", 1, 15, "Invalid topic filter ''")]
    [InlineData("SELECT * FROM 'a' WHERE x > 1 garbage", 1, 31, "Expected an operator or end of statement but found 'garbage'")]
    [InlineData("SELECT a FROM 'a' extra", 1, 19, "Expected WHERE or end of statement but found 'extra'")]
    [InlineData("SELECT FROM 'a'", 1, 8, "Expected an expression but found 'FROM'")]
    [InlineData("FROM 'a' SELECT *", 1, 1, "Expected SELECT but found 'FROM'")]
    [InlineData("SELECT * FROM a/b", 1, 15, "Expected a quoted topic filter but found 'a'")]
    [InlineData("SELECT a + FROM 'x'", 1, 12, "Expected an expression but found 'FROM'")]
    [InlineData("SELECT cast(a AS Money) FROM 'x'", 1, 18, "Expected a type")]
    [InlineData("SELECT CASE a THEN 1 END FROM 'x'", 1, 15, "Expected WHEN but found 'THEN'")]
    [InlineData("SELECT CASE WHEN a THEN 1 FROM 'x'", 1, 27, "Expected END but found 'FROM'")]
    [InlineData("SELECT a.* AS b FROM 'x'", 1, 12, "'.*' cannot have an alias")]
    [InlineData("SELECT abs(a.*) FROM 'x'", 1, 14, "'.*' is allowed only as a whole SELECT item")]
    [InlineData("SELECT * AS all FROM 'x'", 1, 10, "'*' cannot have an alias")]
    [InlineData("SELECT a # b FROM 'x'", 1, 10, "Unexpected character '#'")]
    [InlineData("SELECT (a FROM 'x'", 1, 11, "Expected ')' but found 'FROM'")]
    [InlineData("SELECT {'a' 1} FROM 'x'", 1, 13, "Expected ':' but found '1'")]
    [InlineData("SELECT [1, 2 FROM 'x'", 1, 14, "Expected ']' but found 'FROM'")]
    [InlineData("SELECT a AS FROM 'x'", 1, 13, "Expected a name after AS but found 'FROM'")]
    [InlineData("SELECT VALUE a, b FROM 'x'", 1, 15, "SELECT VALUE takes a single expression")]
    [InlineData("SELECT 12abc FROM 'x'", 1, 8, "Malformed number")]
    [InlineData("SELECT get_thing_shadow(get_thing_shadow('a', 'r'), 'r') FROM 'x'", 1, 25, "get_thing_shadow cannot be nested")]
    [InlineData("SELECT * FROM 'x' WHERE", 1, 24, "Expected an expression but found end of input")]
    [InlineData("", 1, 1, "Expected SELECT but found end of input")]
    public void Compile_badSql_throwsWithLineColumnAndWhatWasExpected(string sql, int line, int column, string reason)
    {
        var error = Reject(sql);

        Assert.StartsWith(reason, error.Reason, StringComparison.Ordinal);
        Assert.Equal((line, column), (error.Line, error.Column));
        Assert.Contains($"(line {line}, column {column})", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_multiLineSqlCutShort_pointsAtTheEndOnTheLastLine()
    {
        var error = Reject("SELECT temperature,\n       humidity\nFROM 'farmA/#'\nWHERE humidity <");

        Assert.Equal((4, 17), (error.Line, error.Column));
        Assert.StartsWith("Expected an expression but found end of input", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_multiLineUnterminatedString_pointsAtTheOpeningQuote()
    {
        var error = Reject("SELECT a\r\nFROM 'x'\r\nWHERE a = 'open");

        Assert.Equal((3, 11), (error.Line, error.Column));
        Assert.Equal("Unterminated string literal", error.Reason);
    }

    [Fact]
    public void Compile_multiLineUnknownFunction_pointsAtTheName()
    {
        var error = Reject("SELECT\n  temperature,\n  frobnicate(humidity) AS h\nFROM 'farmA/#'");

        Assert.Equal((3, 3), (error.Line, error.Column));
    }

    [Theory]
    [InlineData("select * from 'a/b' where x = 1")]
    [InlineData("SeLeCt a As b FrOm 'a/+/c' WhErE NOT x")]
    [InlineData("SELECT * FROM \"a/#\"")]
    [InlineData("SELECT * FROM '#'")]
    [InlineData("SELECT * FROM '$aws/things/+/shadow/update/accepted'")]
    [InlineData("SELECT\n\ttemperature\nFROM\n\t'farmA/#'\nWHERE\n\thumidity < 35")]
    [InlineData("SELECT `my-field`, a.`b c` FROM 'x'")]
    [InlineData("SELECT CAST(a AS Integer), Cast(b as varchar), cast(c AS bool) FROM 'x'")]
    [InlineData("SELECT ABS(-1), Topic(2), TIMESTAMP() FROM 'x'")]
    [InlineData("SELECT get_thing_shadow('t', 'arn').state FROM 'x'")]
    [InlineData("SELECT get_thing_shadow('t', 'named', 'arn') AS s FROM 'x'")]
    public void Compile_validSql_compiles(string sql) => Assert.NotNull(RuleQuery.Compile(sql));

    [Fact]
    public void Compile_fromFilter_isTheUnquotedFilter() =>
        Assert.Equal("farmA/+/data/#", RuleQuery.Compile("SELECT * FROM 'farmA/+/data/#'").TopicFilter);

    [Fact]
    public void Compile_shadowCall_needsServices()
    {
        Assert.True(RuleQuery.Compile("SELECT * FROM 'x' WHERE get_thing_shadow(topic(2), 'arn').state.reported.on = true").NeedsServices);
        Assert.False(RuleQuery.Compile("SELECT * FROM 'x' WHERE on = true").NeedsServices);
    }

    [Fact]
    public void Compile_null_throwsArgumentNull() => Assert.Throws<ArgumentNullException>(() => RuleQuery.Compile(null!));

    [Theory]
    [InlineData("(", ")")]
    [InlineData("-", "")]
    [InlineData("NOT ", "")]
    [InlineData("1 + ", "")]
    [InlineData("[", "]")]
    public void Compile_hostileNesting_isRejectedNotAStackOverflow(string open, string close)
    {
        var sql = "SELECT * FROM 'x' WHERE " + string.Concat(Enumerable.Repeat(open, 100_000)) + "1" + string.Concat(Enumerable.Repeat(close, 100_000));

        var error = Reject(sql);

        Assert.StartsWith("Expression nested deeper than", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_longFieldPath_isRejected() =>
        Assert.StartsWith("Expression nested deeper than", Reject("SELECT a" + string.Concat(Enumerable.Repeat(".b", 10_000)) + " FROM 'x'").Reason, StringComparison.Ordinal);

    [Fact]
    public void Compile_moderateNesting_compiles() =>
        Assert.Equal("6", RuleSqlTestData.Value(string.Concat(Enumerable.Repeat("(", 50)) + "1 + 2 + 3" + string.Concat(Enumerable.Repeat(")", 50))));
}
