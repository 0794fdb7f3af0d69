using IoTServerless.Core.Registry;
using IoTServerless.Core.Security.Certificates;
using IoTServerless.Core.Security.Policies;
using Microsoft.Extensions.Caching.Memory;

namespace IoTServerless.Core.Security;

/// <summary>
/// What the authorization of a connection reads: certificates, CAs, a certificate's things, things,
/// group ancestry and the policies attached to a target. With a cache lifetime (the broker), every
/// answer is kept in memory, so a warm CONNECT costs no storage read; the broker clears it whenever
/// the identity change feed reports a change, and the lifetime bounds staleness should a change be missed.
/// </summary>
public sealed class DeviceDirectory(
    CertificateStore certificates,
    ThingPrincipalStore principals,
    ThingStore things,
    ThingGroupStore groups,
    PolicyStore policies,
    TimeSpan? cacheLifetime = null) : IDisposable
{
    MemoryCache _cache = new(new MemoryCacheOptions());
    long _generation;

    /// <summary>Rises with every <see cref="Clear"/>: a decision read under an older generation may be stale.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    public Task<DeviceCertificate?> GetCertificateAsync(string certificateId, CancellationToken cancellationToken)
        => CachedAsync("cert|" + certificateId, () => certificates.GetAsync(certificateId, cancellationToken));

    public Task<CaCertificate?> GetCaAsync(string certificateId, CancellationToken cancellationToken)
        => CachedAsync("ca|" + certificateId, () => certificates.GetCaAsync(certificateId, cancellationToken));

    /// <summary>Every registered CA (a handful): just-in-time registration looks for a certificate's issuer among them.</summary>
    public Task<IReadOnlyList<CaCertificate>> GetCasAsync(CancellationToken cancellationToken)
        => CachedAsync("cas", () => certificates.ListCasAsync(cancellationToken));

    /// <summary>The things a certificate is attached to (usually one), so any client id is answered from one entry.</summary>
    public Task<IReadOnlyList<string>> GetThingsOfCertificateAsync(string certificateId, CancellationToken cancellationToken)
        => CachedAsync("things|" + certificateId, () => principals.ListThingsAsync(certificateId, cancellationToken));

    public Task<Thing?> GetThingAsync(string thingName, CancellationToken cancellationToken)
        => CachedAsync("thing|" + thingName, () => things.GetAsync(thingName, cancellationToken));

    public Task<IReadOnlyList<string>> GetGroupAncestryAsync(string thingName, CancellationToken cancellationToken)
        => CachedAsync("groups|" + thingName, () => groups.GetGroupAncestryForThingAsync(thingName, cancellationToken));

    public async Task<IReadOnlyList<NamedPolicyDocument>> GetAttachedDocumentsAsync(IReadOnlyList<string> targets, CancellationToken cancellationToken)
    {
        var documents = new List<NamedPolicyDocument>();
        foreach (var target in targets)
        {
            documents.AddRange(await CachedAsync("policies|" + target, () => policies.GetAttachedDocumentsAsync([target], cancellationToken)));
        }
        return documents;
    }

    /// <summary>Forgets everything cached (identity changes are rare; the next CONNECT reads afresh).</summary>
    public void Clear()
    {
        var old = Interlocked.Exchange(ref _cache, new MemoryCache(new MemoryCacheOptions()));
        Interlocked.Increment(ref _generation);
        old.Dispose();
    }

    async Task<T> CachedAsync<T>(string key, Func<Task<T>> read)
    {
        if (cacheLifetime is not { } lifetime)
        {
            return await read();
        }
        // The cache is captured before the read: if a change clears it meanwhile, this (possibly stale)
        // answer lands in the discarded instance and is never served again.
        var cache = _cache;
        try
        {
            if (cache.TryGetValue(key, out T? cached))
            {
                return cached!;
            }
        }
        catch (ObjectDisposedException)
        {
        }
        var value = await read();
        try
        {
            cache.Set(key, value, lifetime);
        }
        catch (ObjectDisposedException)
        {
        }
        return value;
    }

    public void Dispose() => _cache.Dispose();
}
