using IoTServerless.Core.Security;
using IoTServerless.Core.Security.Changes;
using Microsoft.Extensions.Options;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace IoTServerless.Broker.Security;

/// <summary>
/// Follows the identity change feed and re-checks the live connections a change concerns: a
/// certificate that is no longer ACTIVE (revoked, deactivated, deleted) or whose policies no longer
/// allow iot:Connect is disconnected; otherwise the connection's compiled policies are swapped for the
/// new ones. Changes reach live connections within about one poll interval.
/// </summary>
public sealed class IdentityChangeWatcher(
    IdentityChangeFeed feed,
    DeviceDirectory directory,
    DeviceAuthorizationResolver resolver,
    ConnectionAuthorizations connections,
    MqttServer server,
    IOptions<BrokerOptions> options,
    TimeProvider time,
    ILogger<IdentityChangeWatcher> logger) : BackgroundService
{
    /// <summary>Client ids the watcher disconnected, so their lifecycle event says AUTH_ERROR.</summary>
    public event Action<string>? Disconnecting;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromMilliseconds(options.Value.Authorization.ChangePollMilliseconds);
        var position = feed.Now();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, time, stoppingToken);
                var changes = await feed.ReadAfterAsync(position, stoppingToken);
                if (changes.Count == 0)
                {
                    continue;
                }
                position = changes[^1].Position;
                directory.Clear();
                await ApplyAsync(changes, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Reading the identity change feed failed; retrying");
            }
        }
    }

    async Task ApplyAsync(IReadOnlyList<IdentityChange> changes, CancellationToken cancellationToken)
    {
        var certificates = changes.Where(c => c.Kind is IdentityChangeKinds.Certificate or IdentityChangeKinds.Principal).Select(c => c.Key).ToHashSet(StringComparer.Ordinal);
        var everyone = changes.Any(c => c.Kind is not (IdentityChangeKinds.Certificate or IdentityChangeKinds.Principal));
        foreach (var current in connections.Snapshot())
        {
            if (!everyone && !certificates.Contains(current.CertificateId))
            {
                continue;
            }
            var result = await resolver.ResolveAsync(current.CertificateId, current.Certificate, current.NotBefore, current.NotAfter, current.ClientId, cancellationToken);
            if (result.Allowed)
            {
                connections.TryReplace(current, result.Authorization!);
                continue;
            }
            logger.LogInformation("Disconnecting {ClientId}: {Reason}", current.ClientId, result.DenyReason);
            connections.Remove(current.ClientId);
            Disconnecting?.Invoke(current.ClientId);
            try
            {
                await server.DisconnectClientAsync(current.ClientId, MqttDisconnectReasonCode.NotAuthorized);
            }
            catch (Exception ex)
            {
                logger.LogDebug(ex, "{ClientId} was already gone", current.ClientId);
            }
        }
    }
}
