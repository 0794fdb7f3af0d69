using System.Globalization;
using System.Text;

namespace IoTServerless.Core.Rules.Sql;

internal enum TokenKind
{
    End,
    Identifier,
    QuotedIdentifier,
    String,
    Int,
    Decimal,
    Symbol,
}

internal readonly record struct Token(TokenKind Kind, string Text, int Position, int Length)
{
    public bool IsSymbol(string symbol) => Kind == TokenKind.Symbol && Text == symbol;

    public bool IsKeyword(string keyword) => Kind == TokenKind.Identifier && Text.Equals(keyword, StringComparison.OrdinalIgnoreCase);

    public string Describe() => Kind switch
    {
        TokenKind.End => "end of input",
        TokenKind.String => $"string '{Text}'",
        TokenKind.QuotedIdentifier => $"`{Text}`",
        _ => $"'{Text}'",
    };
}

/// <summary>Splits rule SQL into tokens, each with its offset in the source (for 1-based line/column errors).</summary>
internal sealed class SqlLexer
{
    static readonly string[] Symbols = ["<>", "!=", "<=", ">=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "*", "+", "-", "/", "%", "=", "<", ">"];

    readonly string _text;
    int _position;

    public SqlLexer(string text, int start)
    {
        _text = text;
        _position = start;
    }

    public string Text => _text;

    /// <summary>The token after the current one, without consuming it.</summary>
    public Token Peek()
    {
        var save = _position;
        var token = Next();
        _position = save;
        return token;
    }

    public Token Next()
    {
        SkipBlanks();
        if (_position >= _text.Length)
        {
            return new Token(TokenKind.End, "", _text.Length, 0);
        }
        var start = _position;
        var c = _text[_position];
        if (char.IsAsciiLetter(c) || c == '_')
        {
            while (_position < _text.Length && (char.IsAsciiLetterOrDigit(_text[_position]) || _text[_position] == '_'))
            {
                _position++;
            }
            return new Token(TokenKind.Identifier, _text[start.._position], start, _position - start);
        }
        if (char.IsAsciiDigit(c))
        {
            return Number(start);
        }
        if (c is '\'' or '"')
        {
            return new Token(TokenKind.String, Quoted(c, start), start, _position - start);
        }
        if (c == '`')
        {
            var name = Quoted(c, start);
            if (name.Length == 0)
            {
                throw Error("Empty quoted field name", start);
            }
            return new Token(TokenKind.QuotedIdentifier, name, start, _position - start);
        }
        foreach (var symbol in Symbols)
        {
            if (string.CompareOrdinal(_text, _position, symbol, 0, symbol.Length) == 0)
            {
                _position += symbol.Length;
                return new Token(TokenKind.Symbol, symbol, start, symbol.Length);
            }
        }
        throw Error($"Unexpected character '{c}'", start);
    }

    void SkipBlanks()
    {
        while (_position < _text.Length)
        {
            var c = _text[_position];
            if (char.IsWhiteSpace(c))
            {
                _position++;
            }
            else
            {
                return;
            }
        }
    }

    Token Number(int start)
    {
        var isDecimal = false;
        while (_position < _text.Length && char.IsAsciiDigit(_text[_position]))
        {
            _position++;
        }
        if (_position + 1 < _text.Length && _text[_position] == '.' && char.IsAsciiDigit(_text[_position + 1]))
        {
            isDecimal = true;
            _position++;
            while (_position < _text.Length && char.IsAsciiDigit(_text[_position]))
            {
                _position++;
            }
        }
        if (_position < _text.Length && _text[_position] is 'e' or 'E')
        {
            var save = _position;
            _position++;
            if (_position < _text.Length && _text[_position] is '+' or '-')
            {
                _position++;
            }
            if (_position < _text.Length && char.IsAsciiDigit(_text[_position]))
            {
                isDecimal = true;
                while (_position < _text.Length && char.IsAsciiDigit(_text[_position]))
                {
                    _position++;
                }
            }
            else
            {
                _position = save;
            }
        }
        if (_position < _text.Length && (char.IsAsciiLetter(_text[_position]) || _text[_position] == '_'))
        {
            throw Error($"Malformed number '{_text[start..(_position + 1)]}'", start);
        }
        var text = _text[start.._position];
        if (!isDecimal && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            return new Token(TokenKind.Int, text, start, text.Length);
        }
        return new Token(TokenKind.Decimal, text, start, text.Length);
    }

    /// <summary>A quoted string: the quote doubled, or backslash escapes (\' \" \\ \/ \n \r \t \uXXXX).</summary>
    string Quoted(char quote, int start)
    {
        var builder = new StringBuilder();
        _position++;
        while (true)
        {
            if (_position >= _text.Length)
            {
                throw Error(quote == '`' ? "Unterminated quoted field name" : "Unterminated string literal", start);
            }
            var c = _text[_position++];
            if (c == quote)
            {
                if (_position < _text.Length && _text[_position] == quote)
                {
                    builder.Append(quote);
                    _position++;
                    continue;
                }
                return builder.ToString();
            }
            if (c == '\\' && _position < _text.Length)
            {
                var e = _text[_position++];
                switch (e)
                {
                    case 'n':
                        builder.Append('\n');
                        break;
                    case 'r':
                        builder.Append('\r');
                        break;
                    case 't':
                        builder.Append('\t');
                        break;
                    case 'u' when _position + 4 <= _text.Length
                        && int.TryParse(_text.AsSpan(_position, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var code):
                        builder.Append((char)code);
                        _position += 4;
                        break;
                    case '\'' or '"' or '\\' or '/' or '`':
                        builder.Append(e);
                        break;
                    default:
                        // Not an escape: kept as written (regular expressions use backslashes).
                        builder.Append('\\').Append(e);
                        break;
                }
                continue;
            }
            builder.Append(c);
        }
    }

    public RuleSqlException Error(string message, int position) => SqlErrors.At(_text, message, position);
}

internal static class SqlErrors
{
    public static RuleSqlException At(string text, string message, int position)
    {
        var line = 1;
        var column = 1;
        for (var i = 0; i < position && i < text.Length; i++)
        {
            if (text[i] == '\n')
            {
                line++;
                column = 1;
            }
            else if (text[i] != '\r')
            {
                column++;
            }
        }
        return new RuleSqlException(message, line, column);
    }
}
