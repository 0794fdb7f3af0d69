using System.Globalization;
using IoTServerless.Core;
using IoTServerless.Core.Rules;
using IoTServerless.Functions.Http;
using Microsoft.AspNetCore.Mvc;

namespace IoTServerless.Functions.Rules;

/// <summary>What the rule functions share: the AWS response shapes and refusals as problem details.</summary>
internal static class RulesHttp
{
    /// <summary>
    /// Runs a rule operation; a refusal becomes problem details with AWS's error code (<c>code</c>), every
    /// problem (<c>problems</c>) and, for SQL that does not compile, its <c>line</c> and <c>column</c>.
    /// </summary>
    public static async Task<IActionResult> RunAsync(Func<Task<IActionResult>> operation)
    {
        try
        {
            return await operation();
        }
        catch (TopicRuleException ex)
        {
            var result = Problems.From(ex);
            var problem = (ProblemDetails)result.Value!;
            problem.Extensions["problems"] = ex.Problems;
            if (ex.Line is { } line && ex.Column is { } column)
            {
                problem.Extensions["line"] = line;
                problem.Extensions["column"] = column;
            }
            return result;
        }
        catch (ControlPlaneException ex)
        {
            return Problems.From(ex);
        }
    }

    public static long? EpochSeconds(DateTimeOffset? time) => time?.ToUnixTimeSeconds();

    /// <summary>GetTopicRule's answer.</summary>
    public static object Describe(TopicRule rule, string arn) => new
    {
        ruleArn = arn,
        rule = new
        {
            ruleName = rule.RuleName,
            sql = rule.Sql,
            description = rule.Description,
            createdAt = EpochSeconds(rule.CreatedAt),
            actions = rule.Actions,
            ruleDisabled = rule.RuleDisabled,
            awsIotSqlVersion = rule.AwsIotSqlVersion,
            errorAction = rule.ErrorAction,
        },
    };

    public static string? Query(HttpRequest request, string name)
    {
        var value = request.Query[name].ToString();
        return value.Length == 0 ? null : value;
    }

    public static int? QueryInt(HttpRequest request, string name)
        => Query(request, name) is not { } text ? null
            : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value
            : throw TopicRuleException.Invalid($"{name} must be an integer.");

    public static bool? QueryBool(HttpRequest request, string name)
        => Query(request, name) is not { } text ? null
            : bool.TryParse(text, out var value) ? value
            : throw TopicRuleException.Invalid($"{name} must be true or false.");
}
