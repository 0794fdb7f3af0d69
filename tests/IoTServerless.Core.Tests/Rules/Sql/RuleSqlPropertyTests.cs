using System.Globalization;
using CsCheck;
using IoTServerless.Core.Rules.Sql;
using static IoTServerless.Core.Tests.Rules.Sql.RuleSqlTestData;

namespace IoTServerless.Core.Tests.Rules.Sql;

/// <summary>The evaluator against references written out plainly: Int arithmetic with SQL precedence, and the documented comparison tables.</summary>
public sealed class RuleSqlPropertyTests
{
    static readonly string[] Ops = ["+", "-", "*", "/", "%"];

    /// <summary>Int op Int the way AWS documents it: Int results, Java-style truncating division and remainder; Undefined (null) dividing by zero.</summary>
    static long? Apply(long a, string op, long b) => op switch
    {
        "+" => a + b,
        "-" => a - b,
        "*" => a * b,
        "/" => b == 0 ? null : a / b,
        _ => b == 0 ? null : a % b,
    };

    /// <summary>Left-associative, * / % before + -.</summary>
    static long? Reference(long[] numbers, string[] ops)
    {
        var terms = new List<long?> { numbers[0] };
        var additive = new List<string>();
        for (var i = 0; i < ops.Length; i++)
        {
            if (ops[i] is "+" or "-")
            {
                additive.Add(ops[i]);
                terms.Add(numbers[i + 1]);
            }
            else
            {
                var last = terms[^1];
                terms[^1] = last is null ? null : Apply(last.Value, ops[i], numbers[i + 1]);
            }
        }
        var result = terms[0];
        for (var i = 0; i < additive.Count; i++)
        {
            result = result is null || terms[i + 1] is null ? null : Apply(result.Value, additive[i], terms[i + 1]!.Value);
        }
        return result;
    }

    [Fact]
    public void IntArithmetic_matchesTheReference_withPrecedenceAndAssociativity()
    {
        var gen = Gen.Int[1, 5].SelectMany(n => Gen.Select(Gen.Long[-50, 50].Array[n + 1], Gen.OneOfConst(Ops).Array[n]));

        gen.Sample((numbers, ops) =>
        {
            var sql = string.Concat(numbers.Select((x, i) => (i == 0 ? "" : $" {ops[i - 1]} ") + x.ToString(CultureInfo.InvariantCulture)));
            var expected = Reference(numbers, ops);
            var actual = Value(sql);
            Assert.Equal(expected?.ToString(CultureInfo.InvariantCulture) ?? "Undefined", actual);
        });
    }

    [Fact]
    public void IntArithmetic_onPayloadFields_matchesTheReference()
    {
        Gen.Select(Gen.Long[-1_000_000, 1_000_000], Gen.OneOfConst(Ops), Gen.Long[-1_000, 1_000]).Sample((a, op, b) =>
        {
            var expected = Apply(a, op, b);
            var actual = Value($"a {op} b", $$"""{"a":{{a}},"b":{{b}}}""");
            Assert.Equal(expected?.ToString(CultureInfo.InvariantCulture) ?? "Undefined", actual);
        });
    }

    /// <summary>Operand JSON (null = missing field) and what it converts to as a Decimal (null = no conversion).</summary>
    static readonly (string? Json, double? Decimal)[] Operands =
    [
        ("1", 1), ("-3", -3), ("2.5", 2.5), ("1.0", 1), ("\"4\"", 4), ("\"-2.5\"", -2.5), ("\"1e1\"", 10), ("\"abc\"", null), ("\"\"", null),
        ("true", null), ("false", null), ("null", null), ("[1]", null), ("{\"x\":1}", null), (null, null),
    ];

    [Fact]
    public void Ordering_convertsBothSidesToDecimal_elseUndefined()
    {
        var operand = Gen.Int[0, Operands.Length - 1];
        Gen.Select(operand, Gen.OneOfConst("<", "<=", ">", ">="), operand).Sample((i, op, j) =>
        {
            var (left, x) = Operands[i];
            var (right, y) = Operands[j];
            string expected = x is null || y is null ? "Undefined" : (op switch
            {
                "<" => x < y,
                "<=" => x <= y,
                ">" => x > y,
                _ => x >= y,
            }) ? "true" : "false";

            Assert.Equal(expected, Value($"a {op} b", Payload(left, right)));
            Assert.Equal(expected == "true", Where($"a {op} b", Payload(left, right)));
        });
    }

    [Fact]
    public void Equality_numbersByValue_otherTypesBySameTypeAndValue_UndefinedWhenMissing()
    {
        var operand = Gen.Int[0, Operands.Length - 1];
        Gen.Select(operand, operand).Sample((i, j) =>
        {
            var (left, _) = Operands[i];
            var (right, _) = Operands[j];
            string expected;
            if (left is null || right is null)
            {
                expected = "Undefined";
            }
            else
            {
                using var l = System.Text.Json.JsonDocument.Parse(left);
                using var r = System.Text.Json.JsonDocument.Parse(right);
                var a = l.RootElement;
                var b = r.RootElement;
                var equal = a.ValueKind == System.Text.Json.JsonValueKind.Number && b.ValueKind == System.Text.Json.JsonValueKind.Number
                    ? a.GetDouble() == b.GetDouble()
                    : System.Text.Json.JsonElement.DeepEquals(a, b);
                expected = equal ? "true" : "false";
            }

            Assert.Equal(expected, Value("a = b", Payload(left, right)));
            var negated = expected switch { "true" => "false", "false" => "true", _ => "Undefined" };
            Assert.Equal(negated, Value("a <> b", Payload(left, right)));
        });
    }

    [Fact]
    public void Matches_agreesWithEvaluate()
    {
        var query = RuleQuery.Compile("SELECT * FROM '#' WHERE a < b OR NOT (a = b)");
        var operand = Gen.Int[0, Operands.Length - 1];
        Gen.Select(operand, operand).Sample((i, j) =>
        {
            var message = Message(Payload(Operands[i].Json, Operands[j].Json));
            Assert.Equal(query.Evaluate(message).Matched, query.Matches(message));
        });
    }

    static string Payload(string? a, string? b)
    {
        var fields = new List<string>();
        if (a is not null)
        {
            fields.Add($"\"a\":{a}");
        }
        if (b is not null)
        {
            fields.Add($"\"b\":{b}");
        }
        return "{" + string.Join(",", fields) + "}";
    }
}
