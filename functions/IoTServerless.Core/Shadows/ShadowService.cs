using System.Collections.Concurrent;
using IoTServerless.Core.Registry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace IoTServerless.Core.Shadows;

/// <summary>
/// The device shadow operations, shared by the MQTT request handler and the HTTP API. Every call
/// answers with a <see cref="ShadowResult"/> — bad input and storage failures included, never an
/// exception (only cancellation propagates). Shadows do not need a registered thing: any valid thing
/// name has a classic shadow and named shadows, as on AWS IoT.
/// </summary>
public sealed class ShadowService
{
    readonly ShadowStore _store;
    readonly TimeProvider _time;
    readonly ILogger<ShadowService> _logger;
    readonly ShadowOptions _options;
    readonly InFlightLimiter _inFlight;
    readonly WriteGates _writeGates = new();

    public ShadowService(ShadowStore store, TimeProvider time, ILogger<ShadowService> logger, IOptions<ShadowOptions>? options = null)
    {
        _store = store;
        _time = time;
        _logger = logger;
        _options = options?.Value ?? new ShadowOptions();
        _inFlight = new InFlightLimiter(Math.Max(1, _options.MaxInFlightPerThing));
    }

    /// <summary>GetThingShadow: <c>get/accepted</c> with the delta, or 404 when the shadow does not exist.</summary>
    /// <param name="request">Empty or <c>{"clientToken":…}</c>; anything else in it is ignored.</param>
    public async Task<ShadowResult> GetAsync(string thingName, string? shadowName, ReadOnlyMemory<byte> request, CancellationToken cancellationToken)
    {
        if (!ShadowClientToken.TryRead(request.Span, out var clientToken, out var tokenError))
        {
            return tokenError.ToResult(Now());
        }
        return await RunAsync(ShadowOperation.Get, thingName, shadowName, clientToken, async () =>
        {
            var stored = await _store.GetAsync(thingName, shadowName, cancellationToken);
            return stored.Document.Get(shadowName ?? thingName, clientToken, Now());
        }, cancellationToken);
    }

    /// <summary>
    /// UpdateThingShadow: creates or merges (see <see cref="ShadowDocument.Update"/>) and stores the
    /// result against the ETag read. Writes to one shadow take turns within this process; when a
    /// writer elsewhere got there first, a request without a version is applied again to the new
    /// document (bounded, with jittered back-off; 429 when the shadow stays that contended) and a
    /// request with a version is then a 409, as its version is no longer current.
    /// </summary>
    public async Task<ShadowResult> UpdateAsync(string thingName, string? shadowName, ReadOnlyMemory<byte> request, CancellationToken cancellationToken)
    {
        if (!ShadowUpdateRequest.TryParse(request.Span, out var update, out var invalid, _options.MaxRequestBytes))
        {
            return invalid.ToResult(Now());
        }
        return await RunAsync(ShadowOperation.Update, thingName, shadowName, update.ClientToken,
            () => WriteAsync(ShadowOperation.Update, thingName, shadowName, update.ClientToken, (shadow, now) => shadow.Update(update, now, _options.MaxStateBytes), cancellationToken),
            cancellationToken);
    }

    /// <summary>
    /// DeleteThingShadow: <c>delete/accepted</c> <c>{"version","timestamp"}</c>, or 404 when the shadow
    /// does not exist. The version is kept: a shadow created again continues from it.
    /// </summary>
    /// <param name="request">Empty or <c>{"clientToken":…}</c>; anything else in it is ignored.</param>
    public async Task<ShadowResult> DeleteAsync(string thingName, string? shadowName, ReadOnlyMemory<byte> request, CancellationToken cancellationToken)
    {
        if (!ShadowClientToken.TryRead(request.Span, out var clientToken, out var tokenError))
        {
            return tokenError.ToResult(Now());
        }
        return await RunAsync(ShadowOperation.Delete, thingName, shadowName, clientToken,
            () => WriteAsync(ShadowOperation.Delete, thingName, shadowName, clientToken, (shadow, now) => shadow.Delete(shadowName ?? thingName, clientToken, now), cancellationToken),
            cancellationToken);
    }

    /// <summary>
    /// ListNamedShadowsForThing: <c>{"results":[names],"nextToken"?,"timestamp"}</c> (existing named
    /// shadows in name order; page size 1–100, default 25); 400 for an invalid thing name, page size or token.
    /// </summary>
    public async Task<NamedShadowPage> ListNamedAsync(string thingName, string? nextToken, int? pageSize, CancellationToken cancellationToken)
    {
        if (!ThingName.IsValid(thingName))
        {
            return Refused(InvalidThingName(null));
        }
        try
        {
            var (names, next) = await _store.ListNamedAsync(thingName, nextToken, pageSize, cancellationToken);
            var payload = ShadowJson.Write(w =>
            {
                w.WriteStartObject();
                w.WriteStartArray("results");
                foreach (var name in names)
                {
                    w.WriteStringValue(name);
                }
                w.WriteEndArray();
                if (next is not null)
                {
                    w.WriteString("nextToken", next);
                }
                w.WriteNumber("timestamp", Now());
                w.WriteEndObject();
            });
            return new NamedShadowPage(200, payload, names, next);
        }
        catch (RegistryException ex)
        {
            return Refused(ShadowError.InvalidRequest(ex.Message, null));
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _logger.LogError(ex, "Listing the named shadows of {ThingName} failed", thingName);
            return Refused(ShadowError.Internal(null));
        }

        NamedShadowPage Refused(ShadowError error) => new(error.Code, error.ToPayload(Now()), [], null);
    }

    /// <summary>Validates the names, holds one of the thing's in-flight slots, and turns failures into 500 documents.</summary>
    async Task<ShadowResult> RunAsync(ShadowOperation operation, string thingName, string? shadowName, string? clientToken, Func<Task<ShadowResult>> run, CancellationToken cancellationToken)
    {
        if (!ThingName.IsValid(thingName))
        {
            return InvalidThingName(clientToken).ToResult(Now());
        }
        if (shadowName is not null && !ShadowName.IsValid(shadowName))
        {
            return ShadowError.InvalidRequest($"Invalid shadow name: it must match [$a-zA-Z0-9:_-]{{1,{ShadowName.MaxLength}}}.", clientToken).ToResult(Now());
        }
        if (!_inFlight.TryEnter(thingName))
        {
            _logger.LogWarning("Shadow {Operation} of {ThingName}/{ShadowName} refused: more than {Limit} requests in flight for the thing", operation, thingName, shadowName ?? "", _options.MaxInFlightPerThing);
            return ShadowError.TooManyRequests(clientToken).ToResult(Now());
        }
        try
        {
            return await run();
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _logger.LogError(ex, "Shadow {Operation} of {ThingName}/{ShadowName} failed", operation, thingName, shadowName ?? "");
            return ShadowError.Internal(clientToken).ToResult(Now());
        }
        finally
        {
            _inFlight.Exit(thingName);
        }
    }

    /// <summary>
    /// Reads the shadow, decides, and writes the decision against the ETag read — again, on the
    /// document now stored, when a writer elsewhere got there first (bounded; then 429).
    /// </summary>
    async Task<ShadowResult> WriteAsync(
        ShadowOperation operation, string thingName, string? shadowName, string? clientToken, Func<ShadowDocument, long, ShadowOutcome> decide, CancellationToken cancellationToken)
    {
        using var gate = await _writeGates.EnterAsync(thingName, shadowName, cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            var stored = await _store.GetForWriteAsync(thingName, shadowName, cancellationToken);
            var outcome = decide(stored.Document, Now());
            if (outcome.Updated is null && stored.Remembered)
            {
                // A refusal (a version conflict, a missing shadow) is only decided on what the table holds now.
                stored = await _store.GetAsync(thingName, shadowName, cancellationToken);
                outcome = decide(stored.Document, Now());
            }
            if (outcome.Updated is null
                || await _store.TryWriteAsync(thingName, shadowName, outcome.Updated, stored.ETag, cancellationToken))
            {
                return outcome.Result;
            }
            if (attempt >= _options.MaxWriteAttempts)
            {
                _logger.LogWarning("Shadow {Operation} of {ThingName}/{ShadowName} lost {Attempts} races to writers elsewhere; answering 429", operation, thingName, shadowName ?? "", attempt);
                return ShadowError.TooManyRequests(clientToken).ToResult(Now());
            }
            await BackOffAsync(attempt, cancellationToken);
        }
    }

    static ShadowError InvalidThingName(string? clientToken)
        => ShadowError.InvalidRequest("Invalid thing name: it must match [a-zA-Z0-9:_-]{1,128}.", clientToken);

    long Now() => _time.GetUtcNow().ToUnixTimeSeconds();

    static Task BackOffAsync(int attempt, CancellationToken cancellationToken)
        => Task.Delay(Random.Shared.Next(1, Math.Min(200, 5 << Math.Min(attempt, 6))), cancellationToken);

    /// <summary>
    /// One writer at a time per shadow in this process: ETags keep writers in different processes
    /// correct, and this keeps the ones in this process from spending round trips racing each other.
    /// </summary>
    sealed class WriteGates
    {
        readonly ConcurrentDictionary<string, Gate> _gates = new(StringComparer.Ordinal);

        public async Task<IDisposable> EnterAsync(string thingName, string? shadowName, CancellationToken cancellationToken)
        {
            // Thing names never contain '/', so the key is unambiguous.
            var key = thingName + "/" + shadowName;
            while (true)
            {
                var gate = _gates.GetOrAdd(key, _ => new Gate());
                lock (gate)
                {
                    if (gate.Retired)
                    {
                        continue;
                    }
                    gate.Users++;
                }
                try
                {
                    await gate.Turn.WaitAsync(cancellationToken);
                }
                catch
                {
                    Leave(key, gate, held: false);
                    throw;
                }
                return new Lease(() => Leave(key, gate, held: true));
            }
        }

        void Leave(string key, Gate gate, bool held)
        {
            if (held)
            {
                gate.Turn.Release();
            }
            lock (gate)
            {
                if (--gate.Users == 0)
                {
                    gate.Retired = true;
                    _gates.TryRemove(new KeyValuePair<string, Gate>(key, gate));
                    gate.Dispose();
                }
            }
        }

        sealed class Gate : IDisposable
        {
            public readonly SemaphoreSlim Turn = new(1, 1);
            public int Users;
            public bool Retired;

            public void Dispose() => Turn.Dispose();
        }

        sealed class Lease(Action leave) : IDisposable
        {
            int _left;

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _left, 1) == 0)
                {
                    leave();
                }
            }
        }
    }

    /// <summary>Counts requests in progress per thing; refuses one more than the limit.</summary>
    sealed class InFlightLimiter(int limit)
    {
        readonly ConcurrentDictionary<string, Counter> _counters = new(StringComparer.Ordinal);

        public bool TryEnter(string key)
        {
            while (true)
            {
                var counter = _counters.GetOrAdd(key, _ => new Counter());
                lock (counter)
                {
                    if (counter.Retired)
                    {
                        continue; // removed between GetOrAdd and lock: take the fresh one
                    }
                    if (counter.Count >= limit)
                    {
                        return false;
                    }
                    counter.Count++;
                    return true;
                }
            }
        }

        public void Exit(string key)
        {
            if (!_counters.TryGetValue(key, out var counter))
            {
                return;
            }
            lock (counter)
            {
                if (--counter.Count == 0)
                {
                    counter.Retired = true;
                    _counters.TryRemove(new KeyValuePair<string, Counter>(key, counter));
                }
            }
        }

        sealed class Counter
        {
            public int Count;
            public bool Retired;
        }
    }
}
