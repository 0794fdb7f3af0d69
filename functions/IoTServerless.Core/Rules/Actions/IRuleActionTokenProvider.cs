using System.Collections.Concurrent;
using Azure.Core;
using Azure.Identity;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Rules.Actions;

/// <summary>Access tokens of the app's managed identity, for actions that call identity-protected endpoints.</summary>
public interface IRuleActionTokenProvider
{
    Task<string> GetTokenAsync(string scope, CancellationToken cancellationToken);
}

/// <summary><see cref="DefaultAzureCredential"/> (user-assigned identity from <see cref="RuleActionOptions.ManagedIdentityClientId"/>), each scope's token cached until five minutes before it expires.</summary>
public sealed class DefaultAzureCredentialTokenProvider(IOptions<RuleActionOptions> options) : IRuleActionTokenProvider
{
    readonly Lazy<TokenCredential> _credential = new(() => RuleActionCredential.Create(options.Value));
    readonly ConcurrentDictionary<string, AccessToken> _tokens = new(StringComparer.Ordinal);

    public async Task<string> GetTokenAsync(string scope, CancellationToken cancellationToken)
    {
        if (_tokens.TryGetValue(scope, out var cached) && cached.ExpiresOn > DateTimeOffset.UtcNow.AddMinutes(5))
        {
            return cached.Token;
        }
        var token = await _credential.Value.GetTokenAsync(new TokenRequestContext([scope]), cancellationToken);
        _tokens[scope] = token;
        return token.Token;
    }
}

internal static class RuleActionCredential
{
    public static TokenCredential Create(RuleActionOptions options)
        => new DefaultAzureCredential(new DefaultAzureCredentialOptions
        {
            ManagedIdentityClientId = string.IsNullOrEmpty(options.ManagedIdentityClientId) ? null : options.ManagedIdentityClientId,
        });
}
