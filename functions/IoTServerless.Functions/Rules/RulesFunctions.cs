using System.Text.Json;
using IoTServerless.Core.Rules;
using IoTServerless.Functions.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace IoTServerless.Functions.Rules;

/// <summary>
/// AWS IoT's topic rule control plane: CreateTopicRule, ReplaceTopicRule, GetTopicRule, ListTopicRules,
/// DeleteTopicRule, EnableTopicRule, DisableTopicRule.
/// </summary>
public sealed class RulesFunctions(TopicRuleService rules)
{
    /// <summary>A 200 written with the rule JSON's options: camelCase, absent fields left out (one key per action).</summary>
    static OkObjectResult Ok(object value) => new(JsonSerializer.SerializeToElement(value, TopicRuleJson.Options));

    /// <summary>Body: <c>{"sql","description","ruleDisabled","awsIotSqlVersion","actions":[…],"errorAction":{…}}</c>.</summary>
    [Function("CreateTopicRule")]
    public Task<IActionResult> CreateTopicRuleAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "rules/{ruleName}")] HttpRequest request,
        string ruleName,
        CancellationToken cancellationToken)
        => RulesHttp.RunAsync(async () =>
        {
            var rule = TopicRuleJson.Parse(ruleName, await JsonBody.ReadObjectAsync(request, cancellationToken));
            await rules.CreateAsync(rule, cancellationToken);
            return new OkObjectResult(new { });
        });

    [Function("ReplaceTopicRule")]
    public Task<IActionResult> ReplaceTopicRuleAsync(
        [HttpTrigger(AuthorizationLevel.Function, "patch", Route = "rules/{ruleName}")] HttpRequest request,
        string ruleName,
        CancellationToken cancellationToken)
        => RulesHttp.RunAsync(async () =>
        {
            var rule = TopicRuleJson.Parse(ruleName, await JsonBody.ReadObjectAsync(request, cancellationToken));
            await rules.ReplaceAsync(rule, cancellationToken);
            return new OkObjectResult(new { });
        });

    [Function("GetTopicRule")]
    public Task<IActionResult> GetTopicRuleAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "rules/{ruleName}")] HttpRequest request,
        string ruleName,
        CancellationToken cancellationToken)
        => RulesHttp.RunAsync(async () =>
        {
            var rule = await rules.GetAsync(ruleName, cancellationToken);
            return Ok(RulesHttp.Describe(rule, rules.ArnOf(ruleName)));
        });

    /// <summary><c>?topic=</c> (rules whose FROM filter is exactly that), <c>?ruleDisabled=</c>, <c>?maxResults=</c> (1–250), <c>?nextToken=</c>.</summary>
    [Function("ListTopicRules")]
    public Task<IActionResult> ListTopicRulesAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "rules")] HttpRequest request,
        CancellationToken cancellationToken)
        => RulesHttp.RunAsync(async () =>
        {
            var page = await rules.ListAsync(
                RulesHttp.Query(request, "topic"),
                RulesHttp.QueryBool(request, "ruleDisabled"),
                RulesHttp.QueryInt(request, "maxResults"),
                RulesHttp.Query(request, "nextToken"),
                cancellationToken);
            return Ok(new
            {
                rules = page.Items.Select(r => new
                {
                    ruleArn = rules.ArnOf(r.RuleName),
                    ruleName = r.RuleName,
                    topicPattern = r.TopicPattern,
                    createdAt = RulesHttp.EpochSeconds(r.CreatedAt),
                    ruleDisabled = r.RuleDisabled,
                }),
                nextToken = page.NextToken,
            });
        });

    [Function("DeleteTopicRule")]
    public Task<IActionResult> DeleteTopicRuleAsync(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = "rules/{ruleName}")] HttpRequest request,
        string ruleName,
        CancellationToken cancellationToken)
        => RulesHttp.RunAsync(async () =>
        {
            await rules.DeleteAsync(ruleName, cancellationToken);
            return new OkObjectResult(new { });
        });

    [Function("EnableTopicRule")]
    public Task<IActionResult> EnableTopicRuleAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "rules/{ruleName}/enable")] HttpRequest request,
        string ruleName,
        CancellationToken cancellationToken)
        => RulesHttp.RunAsync(async () =>
        {
            await rules.EnableAsync(ruleName, cancellationToken);
            return new OkObjectResult(new { });
        });

    [Function("DisableTopicRule")]
    public Task<IActionResult> DisableTopicRuleAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "rules/{ruleName}/disable")] HttpRequest request,
        string ruleName,
        CancellationToken cancellationToken)
        => RulesHttp.RunAsync(async () =>
        {
            await rules.DisableAsync(ruleName, cancellationToken);
            return new OkObjectResult(new { });
        });
}
