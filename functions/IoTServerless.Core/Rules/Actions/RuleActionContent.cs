using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using IoTServerless.Core.Rules.Sql;

namespace IoTServerless.Core.Rules.Actions;

/// <summary>What the Azure actions share about an invocation's output and identity.</summary>
internal static class RuleActionContent
{
    public const string JsonContentType = "application/json";
    public const string BinaryContentType = "application/octet-stream";

    /// <summary>True when the output is one complete JSON value (what a SELECT produces), so it is sent as application/json.</summary>
    public static bool IsJson(ReadOnlySpan<byte> output)
    {
        if (output.IsEmpty)
        {
            return false;
        }
        try
        {
            var reader = new Utf8JsonReader(output, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            if (!reader.Read())
            {
                return false;
            }
            reader.Skip();
            // A second value or trailing garbage throws; whitespace after the value does not.
            return !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }

    public static string ContentType(ReadOnlySpan<byte> output) => IsJson(output) ? JsonContentType : BinaryContentType;

    /// <summary>
    /// The message's id, stable across redeliveries: the broker's <see cref="RuleMessage.MessageId"/>,
    /// or when it has none a digest of topic, client, receive time and payload (equal for a redelivery).
    /// </summary>
    public static string MessageId(in RuleMessage message)
    {
        if (!string.IsNullOrEmpty(message.MessageId))
        {
            return message.MessageId;
        }
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{message.Topic}\0{message.ClientId}\0{message.Timestamp}\0"));
        hash.AppendData(message.Payload.Span);
        return Convert.ToHexStringLower(hash.GetHashAndReset().AsSpan(0, 16));
    }

    /// <summary>A short stable digest of an action's settings (the same for the same action in every process).</summary>
    public static string Fingerprint<T>(T action)
        => Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(action)).AsSpan(0, 4));

    /// <summary>True for a valid Azure Storage queue or container name: 3–63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.</summary>
    public static bool IsStorageName(string name)
    {
        if (name.Length is < 3 or > 63 || name[0] == '-' || name[^1] == '-')
        {
            return false;
        }
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            var ok = c is (>= 'a' and <= 'z') or (>= '0' and <= '9') || (c == '-' && name[i - 1] != '-');
            if (!ok)
            {
                return false;
            }
        }
        return true;
    }
}
