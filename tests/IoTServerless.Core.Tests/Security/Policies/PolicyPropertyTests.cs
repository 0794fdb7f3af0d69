using System.Text.Json;
using CsCheck;
using IoTServerless.Core.Security.Policies;

namespace IoTServerless.Core.Tests.Security.Policies;

/// <summary>
/// The compiled matchers against an obviously-correct reference: glob by recursive backtracking and
/// whole-policy decisions by the IAM rules written out literally.
/// </summary>
public sealed class PolicyPropertyTests
{
    /// <summary>Pattern tokens: wildcards, the escapes, MQTT wildcards and '/' as plain characters.</summary>
    static readonly Gen<string> PatternToken = Gen.OneOfConst("a", "b", "/", "+", "#", "*", "?", "${*}", "${?}", "${$}", "$", "ab");

    static readonly Gen<string> Pattern = PatternToken.Array[1, 8].Select(tokens => string.Concat(tokens));

    static readonly Gen<string> Input = Gen.String[Gen.Char["ab/+#*?$"], 0, 10];

    /// <summary>What a pattern means: each element is a literal character, or '*'/'?' as a wildcard.</summary>
    static List<(char C, bool Wild)> Reference(string pattern)
    {
        var list = new List<(char, bool)>();
        for (var i = 0; i < pattern.Length; i++)
        {
            if (pattern.AsSpan(i).StartsWith("${") && pattern.Length >= i + 4 && pattern[i + 3] == '}')
            {
                list.Add((pattern[i + 2], false));
                i += 3;
            }
            else
            {
                list.Add((pattern[i], pattern[i] is '*' or '?'));
            }
        }
        return list;
    }

    static bool ReferenceMatch(List<(char C, bool Wild)> pattern, int p, string input, int s)
    {
        if (p == pattern.Count)
        {
            return s == input.Length;
        }
        var (c, wild) = pattern[p];
        if (wild && c == '*')
        {
            for (var k = s; k <= input.Length; k++)
            {
                if (ReferenceMatch(pattern, p + 1, input, k))
                {
                    return true;
                }
            }
            return false;
        }
        return s < input.Length && ((wild && c == '?') || input[s] == c) && ReferenceMatch(pattern, p + 1, input, s + 1);
    }

    static bool ReferenceMatch(string pattern, string input) => ReferenceMatch(Reference(pattern), 0, input, 0);

    [Fact]
    public void CompiledGlob_agreesWithBacktrackingReference()
    {
        Gen.Select(Pattern, Input).Sample(t =>
        {
            var (pattern, input) = t;
            var glob = PolicyTemplate.Parse(pattern).ToGlob(PolicyContext.Empty)!;
            return glob.IsMatch(input) == ReferenceMatch(pattern, input);
        }, iter: 20_000);
    }

    [Fact]
    public void CompiledGlob_agreesWithReference_onInputsBuiltFromThePattern()
    {
        // Random inputs rarely match long patterns; derive near-matches from the pattern itself.
        var derived = Gen.Select(Pattern, Gen.String[Gen.Char["ab/+#"], 0, 3], Gen.Int[0, 3]).Select((pattern, filler, mutation) =>
        {
            var concrete = string.Concat(Reference(pattern).Select(e => e.Wild ? (e.C == '*' ? filler : "x") : e.C.ToString()));
            var input = mutation switch
            {
                0 => concrete,
                1 when concrete.Length > 0 => concrete[1..],
                2 => concrete + "a",
                _ => "a" + concrete,
            };
            return (pattern, input);
        });
        derived.Sample(t => PolicyTemplate.Parse(t.pattern).ToGlob(PolicyContext.Empty)!.IsMatch(t.input) == ReferenceMatch(t.pattern, t.input), iter: 20_000);
    }

    sealed record RefStatement(bool Deny, bool NotAction, PolicyAction[] Actions, bool NotResource, string[] Resources);

    static readonly Gen<RefStatement> Statement = Gen.Select(
        Gen.Bool,
        Gen.Bool,
        Gen.Enum<PolicyAction>().Array[1, 3],
        Gen.Bool,
        Pattern.Array[1, 3]).Select((deny, notAction, actions, notResource, resources) => new RefStatement(deny, notAction, actions, notResource, resources));

    static string ToJson(RefStatement[] statements) => JsonSerializer.Serialize(new
    {
        Version = "2012-10-17",
        Statement = statements.Select(s => new Dictionary<string, object>
        {
            ["Effect"] = s.Deny ? "Deny" : "Allow",
            [s.NotAction ? "NotAction" : "Action"] = s.Actions.Select(PolicyActions.NameOf).ToArray(),
            [s.NotResource ? "NotResource" : "Resource"] = s.Resources.Select(r => "arn:aws:iot:*:*:topic/" + r).ToArray(),
        }),
    });

    static AuthorizationOutcome ReferenceDecision(RefStatement[] statements, PolicyAction action, string topic)
    {
        bool Applies(RefStatement s) => s.Actions.Contains(action) != s.NotAction
            && s.Resources.Any(r => ReferenceMatch("topic/" + r, "topic/" + topic)) != s.NotResource;
        if (statements.Any(s => s.Deny && Applies(s)))
        {
            return AuthorizationOutcome.ExplicitDeny;
        }
        return statements.Any(s => !s.Deny && Applies(s)) ? AuthorizationOutcome.Allowed : AuthorizationOutcome.ImplicitDeny;
    }

    [Fact]
    public void CompiledPolicy_decisionsAgreeWithReferenceEvaluation()
    {
        Gen.Select(Statement.Array[1, 4], Gen.Enum<PolicyAction>(), Input).Sample(t =>
        {
            var (statements, action, topic) = t;
            var set = CompiledPolicySet.Compile([new NamedPolicyDocument("p", PolicyDocument.Parse(ToJson(statements)))], PolicyContext.Empty);
            var decision = set.Authorize(action, "arn:aws:iot:local:000000000000:topic/" + topic);
            var expected = ReferenceDecision(statements, action, topic);
            if (decision.Outcome != expected)
            {
                return false;
            }
            // The deciding statement really is one that applies with that effect.
            return decision.Outcome == AuthorizationOutcome.ImplicitDeny
                || ReferenceDecision([statements[decision.StatementIndex]], action, topic) == decision.Outcome;
        }, iter: 5_000);
    }
}
