using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace IoTServerless.Core.Shadows;

/// <summary>
/// How shadow documents are read and written: UTF-8, compact, with only the escapes JSON requires
/// (quote, backslash, control characters), so text — emoji included — stays as devices sent it and
/// sizes count its UTF-8 bytes.
/// </summary>
internal static class ShadowJson
{
    /// <summary>
    /// Deep enough for any payload the size limit lets through to be read and then refused with the
    /// precise nesting error; duplicate property names make a payload invalid JSON.
    /// </summary>
    static readonly JsonDocumentOptions ReaderOptions = new() { MaxDepth = 256, AllowDuplicateProperties = false };

    // Device payloads never end up in HTML: relaxed escaping keeps '+', '<', '&' and most text as sent; Unescape does the rest.
    static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The parsed value (null for the JSON literal null). Throws <see cref="JsonException"/> when not JSON.</summary>
    public static JsonNode? Parse(ReadOnlySpan<byte> utf8) => JsonNode.Parse(utf8, nodeOptions: null, ReaderOptions);

    /// <summary>The parsed value of stored text. Throws <see cref="JsonException"/> when not JSON.</summary>
    public static JsonNode? Parse(string json) => JsonNode.Parse(json, nodeOptions: null, ReaderOptions);

    public static byte[] Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            write(writer);
        }
        return Unescape(buffer.WrittenSpan);
    }

    /// <summary>
    /// Turns the <c>\uXXXX</c> escapes the writer still makes (characters outside the Basic
    /// Multilingual Plane as surrogate pairs, unassigned code points) back into UTF-8; keeps the escapes
    /// JSON requires. Backslashes only occur inside strings, where each starts an escape.
    /// </summary>
    internal static byte[] Unescape(ReadOnlySpan<byte> json)
    {
        if (json.IndexOf("\\u"u8) < 0)
        {
            return json.ToArray();
        }
        var output = new ArrayBufferWriter<byte>(json.Length);
        var i = 0;
        while (i < json.Length)
        {
            var backslash = json[i..].IndexOf((byte)'\\');
            if (backslash < 0)
            {
                output.Write(json[i..]);
                break;
            }
            output.Write(json.Slice(i, backslash));
            i += backslash;
            if (TryReadUnicodeEscape(json, i, out var unit))
            {
                if (char.IsHighSurrogate(unit) && TryReadUnicodeEscape(json, i + 6, out var low) && char.IsLowSurrogate(low))
                {
                    WriteScalar(output, char.ConvertToUtf32(unit, low));
                    i += 12;
                    continue;
                }
                if (unit >= 0x20 && unit is not ('"' or '\\') && !char.IsSurrogate(unit))
                {
                    WriteScalar(output, unit);
                    i += 6;
                    continue;
                }
            }
            // An escape kept as written: its two characters, the rest is copied as ordinary text.
            output.Write(json.Slice(i, Math.Min(2, json.Length - i)));
            i += 2;
        }
        return output.WrittenSpan.ToArray();
    }

    static bool TryReadUnicodeEscape(ReadOnlySpan<byte> json, int at, out char unit)
    {
        unit = default;
        if (at + 6 > json.Length || json[at] != '\\' || json[at + 1] != 'u'
            || !Utf8Parser.TryParse(json.Slice(at + 2, 4), out ushort value, out var consumed, 'X') || consumed != 4)
        {
            return false;
        }
        unit = (char)value;
        return true;
    }

    static void WriteScalar(ArrayBufferWriter<byte> output, int scalar)
    {
        var span = output.GetSpan(4);
        output.Advance(new Rune(scalar).EncodeToUtf8(span));
    }

    public static byte[] ToUtf8(JsonNode? node) => Write(w => WriteNode(w, node));

    public static void WriteNode(Utf8JsonWriter writer, JsonNode? node)
    {
        if (node is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            node.WriteTo(writer);
        }
    }

    public static void WriteProperty(Utf8JsonWriter writer, string name, JsonNode? node)
    {
        writer.WritePropertyName(name);
        WriteNode(writer, node);
    }
}
