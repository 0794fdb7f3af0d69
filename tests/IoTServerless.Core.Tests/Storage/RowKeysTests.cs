using System.Globalization;
using System.Text;
using IoTServerless.Core.Storage;

namespace IoTServerless.Core.Tests.Storage;

public sealed class RowKeysTests
{
    [Theory]
    [InlineData("")]
    [InlineData("pump-1")]
    [InlineData("a:b_c-d.e")]
    [InlineData("0f3c9a")]
    [InlineData("with space")]
    [InlineData("$aws")]
    [InlineData("température")]
    [InlineData("Fi+ld=&*")]
    public void Escape_validKey_isReturnedUnchanged(string value)
        => Assert.Same(value, RowKeys.Escape(value));

    [Theory]
    [InlineData("a/b", "a%2Fb")]
    [InlineData("a\\b", "a%5Cb")]
    [InlineData("a#b", "a%23b")]
    [InlineData("a?b", "a%3Fb")]
    [InlineData("a%b", "a%25b")]
    [InlineData("%2F", "%252F")]
    [InlineData("a\0b", "a%00b")]
    [InlineData("a\nb", "a%0Ab")]
    [InlineData("\t", "%09")]
    [InlineData("\u001F", "%1F")]
    [InlineData("\u007F", "%7F")]
    [InlineData("\u009F", "%9F")]
    [InlineData("//", "%2F%2F")]
    [InlineData("é/x", "é%2Fx")]
    public void Escape_forbiddenCharacter_isPercentEscaped(string value, string expected)
        => Assert.Equal(expected, RowKeys.Escape(value));

    [Theory]
    [InlineData("a/b", "a%2Fb")]
    [InlineData("a%2Fb", "a/b")]
    [InlineData("%", "%25")]
    [InlineData("#", "%23")]
    [InlineData("\u007F", "%7F")]
    public void Escape_distinctInputs_giveDistinctKeys(string left, string right)
        => Assert.NotEqual(RowKeys.Escape(left), RowKeys.Escape(right));

    [Fact]
    public void Escape_randomStrings_isInjectiveAndProducesOnlyAllowedCharacters()
    {
        var random = new Random(7);
        char[] alphabet = ['a', 'F', '2', '5', '%', '/', '\\', '#', '?', '\0', '\n', '\u007F', '\u0085', 'é', ' '];
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < 20_000; i++)
        {
            var length = random.Next(0, 7);
            var sb = new StringBuilder(length);
            for (var k = 0; k < length; k++)
            {
                sb.Append(alphabet[random.Next(alphabet.Length)]);
            }
            var value = sb.ToString();
            var escaped = RowKeys.Escape(value);

            Assert.DoesNotContain(escaped, c => c is '/' or '\\' or '#' or '?' || char.IsControl(c));
            Assert.Equal(value, Unescape(escaped));
            if (seen.TryGetValue(escaped, out var other) && other != value)
            {
                Assert.Fail($"\"{Printable(value)}\" and \"{Printable(other)}\" both escape to \"{escaped}\".");
            }
            seen[escaped] = value;
        }
        Assert.True(seen.Count > 5_000, "the generator produced too few distinct inputs");
    }

    /// <summary>The inverse the escaping promises: each '%' starts exactly two hex digits.</summary>
    static string Unescape(string escaped)
    {
        var sb = new StringBuilder(escaped.Length);
        for (var i = 0; i < escaped.Length; i++)
        {
            if (escaped[i] == '%')
            {
                Assert.True(i + 2 < escaped.Length, $"truncated escape in \"{escaped}\"");
                sb.Append((char)int.Parse(escaped.AsSpan(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                i += 2;
            }
            else
            {
                sb.Append(escaped[i]);
            }
        }
        return sb.ToString();
    }

    static string Printable(string value) => string.Concat(value.Select(c => char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString()));
}
