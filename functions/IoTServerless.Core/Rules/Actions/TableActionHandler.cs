using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Azure;
using Azure.Data.Tables;
using IoTServerless.Core.Storage;
using Microsoft.Extensions.Logging;

namespace IoTServerless.Core.Rules.Actions;

/// <summary>
/// The <c>table</c> action (DynamoDBv2's place): one row per invocation in the named table (created on
/// first use), upserted (Replace), so a redelivered message writes the same row again instead of a new one.
/// <list type="bullet">
/// <item>Keys: <c>partitionKey</c>/<c>rowKey</c> are substitution templates (defaults <c>${topic()}</c> and
/// <c>${timestamp()}</c>, the broker's receive time, stable across redeliveries). Characters Table keys
/// may not hold (<c>/ \ # ?</c>, control characters) and <c>%</c> are escaped reversibly as <c>%XX</c>
/// (<see cref="RowKeys.Escape"/>), so <c>farmA/sensor/s1/data</c> becomes <c>farmA%2Fsensor%2Fs1%2Fdata</c>.
/// A key that renders empty or longer than 1 KiB fails that row.</item>
/// <item>Columns: the SELECT output's top-level fields. JSON string → String, integer → Int64 (Edm.Int64),
/// other number → Double, true/false → Boolean, object/array → String holding its JSON, null → no
/// column (Table has no nulls). Field names become property names with characters other than
/// <c>A-Z a-z 0-9 _</c> replaced by <c>_</c> (a leading digit gets a <c>_</c> prefix); the reserved names
/// PartitionKey, RowKey, Timestamp and ETag get a <c>_</c> suffix. An output that is not a JSON object
/// (SELECT * over a non-JSON payload) is stored in one column <c>payload</c>: its JSON text, or the raw
/// bytes (Binary) when it is not JSON.</item>
/// <item>Batching: the rows of a batch are grouped by (table, partition) into transactions of up to 100
/// (one row per row key: a later invocation for the same key wins, as sequential upserts would). When a
/// transaction fails every row of it is written on its own, so one bad row fails only itself.</item>
/// <item>Errors: a row refused by the table service (4xx) fails that invocation (→ errorAction); an
/// infrastructure failure (network, 5xx, throttling) that outlasts the SDK's retries is thrown, so the
/// engine has the event redelivered.</item>
/// </list>
/// </summary>
public sealed partial class TableActionHandler(TableClientProvider tables, RuleTemplates templates, ILogger<TableActionHandler> logger) : IRuleActionHandler
{
    public const int MaxTransactionRows = 100;
    const int MaxKeyChars = 1024;
    const int MaxStringChars = 32 * 1024;
    const int MaxConcurrentTransactions = 8;

    static readonly HashSet<string> ReservedColumns = new(StringComparer.OrdinalIgnoreCase) { "PartitionKey", "RowKey", "Timestamp", "ETag" };

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    private static partial Regex TableNamePattern();

    public string Kind => RuleActionKinds.Table;

    public string Resource(RuleAction action) => action.Table?.TableName ?? "";

    public IReadOnlyList<string> Validate(RuleAction action)
    {
        var problems = new List<string>();
        if (action.Table is not { } table)
        {
            return ["the table settings are missing."];
        }
        if (string.IsNullOrEmpty(table.TableName) || !TableNamePattern().IsMatch(table.TableName) || table.TableName.StartsWith("tables", StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"tableName '{table.TableName}' is not a valid table name: 3 to 63 letters and digits, starting with a letter.");
        }
        if (string.IsNullOrEmpty(table.PartitionKey))
        {
            problems.Add("partitionKey must not be empty.");
        }
        else if (RuleTemplates.Check("partitionKey", table.PartitionKey) is { } pk)
        {
            problems.Add(pk);
        }
        if (string.IsNullOrEmpty(table.RowKey))
        {
            problems.Add("rowKey must not be empty.");
        }
        else if (RuleTemplates.Check("rowKey", table.RowKey) is { } rk)
        {
            problems.Add(rk);
        }
        return problems;
    }

    sealed record Row(int Index, TableEntity Entity);

    public async Task<IReadOnlyList<string?>> ExecuteAsync(IReadOnlyList<RuleActionInvocation> invocations, CancellationToken cancellationToken)
    {
        var errors = new string?[invocations.Count];
        var groups = new Dictionary<(string Table, string Partition), List<Row>>();
        for (var i = 0; i < invocations.Count; i++)
        {
            var invocation = invocations[i];
            try
            {
                var action = invocation.Action.Table ?? throw new ArgumentException("Not a table action.");
                var partition = Key("partitionKey", action.PartitionKey, invocation);
                var row = Key("rowKey", action.RowKey, invocation);
                var entity = ToEntity(partition, row, invocation.Output);
                var key = (action.TableName, partition);
                if (!groups.TryGetValue(key, out var list))
                {
                    groups[key] = list = [];
                }
                list.Add(new Row(i, entity));
            }
            catch (RowException ex)
            {
                errors[i] = ex.Message;
            }
        }

        // One entity per row key (a transaction may not touch a row twice); the last one wins and its
        // outcome is that of every invocation of the key.
        var chunks = new List<(string Table, List<Row> Rows, Dictionary<string, List<int>> Covered)>();
        foreach (var ((tableName, _), rows) in groups)
        {
            var last = new Dictionary<string, Row>(StringComparer.Ordinal);
            var covered = new Dictionary<string, List<int>>(StringComparer.Ordinal);
            foreach (var row in rows)
            {
                last[row.Entity.RowKey] = row;
                if (!covered.TryGetValue(row.Entity.RowKey, out var indexes))
                {
                    covered[row.Entity.RowKey] = indexes = [];
                }
                indexes.Add(row.Index);
            }
            foreach (var chunk in last.Values.Chunk(MaxTransactionRows))
            {
                chunks.Add((tableName, [.. chunk], covered));
            }
        }

        var infrastructure = new ConcurrentQueue<Exception>();
        await Parallel.ForEachAsync(chunks, new ParallelOptions { MaxDegreeOfParallelism = MaxConcurrentTransactions, CancellationToken = cancellationToken }, async (chunk, token) =>
        {
            try
            {
                var table = await tables.GetTableAsync(chunk.Table, token);
                foreach (var (rowKey, error) in await WriteAsync(table, chunk.Rows, token))
                {
                    foreach (var index in chunk.Covered[rowKey])
                    {
                        errors[index] = error;
                    }
                }
            }
            catch (Exception ex) when (IsInfrastructure(ex) && !token.IsCancellationRequested)
            {
                infrastructure.Enqueue(ex);
            }
            catch (RequestFailedException ex)
            {
                foreach (var index in chunk.Rows.SelectMany(r => chunk.Covered[r.Entity.RowKey]))
                {
                    errors[index] = $"Table {chunk.Table}: {ex.Status} {ex.ErrorCode}: {FirstLine(ex.Message)}";
                }
            }
        });
        if (!infrastructure.IsEmpty)
        {
            throw new AggregateException("Writing rule rows to Table storage failed.", infrastructure);
        }
        return errors;
    }

    /// <summary>Writes one chunk (one table, one partition): a transaction, or row by row when it fails. Returns the failed rows' errors by row key.</summary>
    async Task<Dictionary<string, string>> WriteAsync(TableClient table, List<Row> rows, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string>(StringComparer.Ordinal);
        if (rows.Count > 1)
        {
            try
            {
                await table.SubmitTransactionAsync(rows.Select(r => new TableTransactionAction(TableTransactionActionType.UpsertReplace, r.Entity)), cancellationToken);
                return errors;
            }
            catch (TableTransactionFailedException ex)
            {
                logger.LogDebug(ex, "A transaction of {RowCount} rows to {TableName} failed; writing them one by one", rows.Count, table.Name);
            }
            catch (RequestFailedException ex) when (!IsInfrastructure(ex))
            {
                logger.LogDebug(ex, "A transaction of {RowCount} rows to {TableName} failed; writing them one by one", rows.Count, table.Name);
            }
        }
        foreach (var row in rows)
        {
            try
            {
                await table.UpsertEntityAsync(row.Entity, TableUpdateMode.Replace, cancellationToken);
            }
            catch (RequestFailedException ex) when (!IsInfrastructure(ex))
            {
                errors[row.Entity.RowKey] = $"Table {table.Name}: {ex.Status} {ex.ErrorCode}: {FirstLine(ex.Message)}";
            }
        }
        return errors;
    }

    static bool IsInfrastructure(Exception ex) => ex switch
    {
        RequestFailedException r => r.Status is 0 or 408 or 429 or >= 500,
        HttpRequestException or TimeoutException or IOException => true,
        AggregateException a => a.InnerExceptions.Any(IsInfrastructure),
        _ => false,
    };

    static string FirstLine(string message)
    {
        var newline = message.IndexOfAny(['\r', '\n']);
        return newline < 0 ? message : message[..newline];
    }

    string Key(string field, string template, RuleActionInvocation invocation)
    {
        string rendered;
        try
        {
            rendered = templates.Get(template).Render(invocation.Message);
        }
        catch (Exception ex) when (ex is Sql.RuleSqlException or FormatException or InvalidOperationException)
        {
            throw new RowException($"{field} '{template}' could not be rendered: {ex.Message}");
        }
        var key = RowKeys.Escape(rendered);
        if (key.Length == 0)
        {
            throw new RowException($"{field} '{template}' rendered an empty key.");
        }
        if (key.Length > MaxKeyChars)
        {
            throw new RowException($"{field} '{template}' rendered a key of {key.Length} characters; at most {MaxKeyChars}.");
        }
        return key;
    }

    /// <summary>The row for one SELECT output (see the class summary for the type mapping).</summary>
    public static TableEntity ToEntity(string partitionKey, string rowKey, ReadOnlyMemory<byte> output)
    {
        var entity = new TableEntity(partitionKey, rowKey);
        JsonDocument? document = null;
        try
        {
            document = JsonDocument.Parse(output);
        }
        catch (JsonException)
        {
        }
        using (document)
        {
            if (document is null)
            {
                entity["payload"] = output.ToArray();
                return entity;
            }
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                entity["payload"] = Value("payload", document.RootElement);
                return entity;
            }
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (Value(property.Name, property.Value) is { } value)
                {
                    entity[ColumnName(property.Name)] = value;
                }
            }
        }
        return entity;
    }

    static object? Value(string name, JsonElement element)
    {
        object? value = element.ValueKind switch
        {
            JsonValueKind.String => element.GetString(),
            JsonValueKind.Number => element.TryGetInt64(out var l) ? (object)l : element.GetDouble(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Null or JsonValueKind.Undefined => null,
            _ => element.GetRawText(),
        };
        if (value is string { Length: > MaxStringChars } s)
        {
            throw new RowException($"Field '{name}' is {s.Length} characters long; a column holds at most {MaxStringChars}.");
        }
        return value;
    }

    /// <summary>A Table property name for a JSON field name (see the class summary).</summary>
    public static string ColumnName(string field)
    {
        var sb = new StringBuilder(field.Length + 1);
        foreach (var c in field)
        {
            sb.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_');
        }
        if (sb.Length == 0 || char.IsAsciiDigit(sb[0]))
        {
            sb.Insert(0, '_');
        }
        var name = sb.Length > 255 ? sb.ToString(0, 255) : sb.ToString();
        return ReservedColumns.Contains(name) ? name + "_" : name;
    }

    sealed class RowException(string message) : Exception(message);
}
