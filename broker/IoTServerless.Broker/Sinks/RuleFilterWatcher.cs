using IoTServerless.Core.Rules;
using Microsoft.Extensions.Options;

namespace IoTServerless.Broker.Sinks;

/// <summary>
/// Keeps the <see cref="ForwardingIndex"/> in step with the rules: reads the enabled rules' FROM filters
/// (their own column of the <c>Rules</c> table, no SQL parsing) at start and every
/// <see cref="EventOptions.RuleFilterPollMilliseconds"/>, and forwards the configured
/// <see cref="EventOptions.ForwardTopicFilters"/> plus those. When the table cannot be read the filters
/// in force stay as they are.
/// </summary>
public sealed class RuleFilterWatcher(
    TopicRuleStore rules,
    ForwardingIndex index,
    IOptions<BrokerOptions> options,
    TimeProvider time,
    ILogger<RuleFilterWatcher> logger) : BackgroundService
{
    /// <summary>The rule filters last applied (for diagnostics and tests).</summary>
    public IReadOnlyCollection<string> RuleFilters { get; private set; } = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromMilliseconds(options.Value.Events.RuleFilterPollMilliseconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RefreshAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Reading the rules' topic filters failed; the {FilterCount} filters in force stay", RuleFilters.Count);
            }
            try
            {
                await Task.Delay(interval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Reads the enabled rules' filters once and applies them.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var filters = await rules.ListEnabledTopicFiltersAsync(cancellationToken);
        if (filters.Count == RuleFilters.Count && filters.All(RuleFilters.Contains))
        {
            return;
        }
        index.SetFilters(options.Value.Events.ForwardTopicFilters.Concat(filters).Distinct(StringComparer.Ordinal));
        logger.LogInformation("Forwarding {FilterCount} rule topic filters", filters.Count);
        RuleFilters = filters;
    }
}
