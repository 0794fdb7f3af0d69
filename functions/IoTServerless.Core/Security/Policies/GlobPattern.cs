namespace IoTServerless.Core.Security.Policies;

/// <summary>
/// A compiled IAM-style glob: <c>*</c> matches any run of characters (including <c>/</c>), <c>?</c>
/// exactly one character, everything else (MQTT <c>+</c> and <c>#</c> too) only itself, ordinally.
/// Matching allocates nothing: exact, prefix, suffix and match-all patterns take a fast path; the
/// general case matches the fixed-length pieces between stars greedily (leftmost), which is exact
/// because every piece has a fixed length.
/// </summary>
public sealed class GlobPattern
{
    enum Kind : byte { Exact, Any, Prefix, Suffix, General }

    readonly Kind _kind;
    readonly Piece[] _pieces;
    readonly bool _leadingStar;
    readonly bool _trailingStar;
    readonly int _minLength;

    GlobPattern(List<Piece> pieces, bool leadingStar, bool trailingStar, string text)
    {
        _pieces = [.. pieces];
        _leadingStar = leadingStar;
        _trailingStar = trailingStar;
        Text = text;
        foreach (var piece in _pieces)
        {
            _minLength += piece.Text.Length;
        }
        var hasStar = leadingStar || trailingStar || _pieces.Length > 1;
        var anyWild = _pieces.Any(p => p.Wild is not null);
        _kind = !hasStar ? Kind.Exact
            : _pieces.Length == 0 ? Kind.Any
            : anyWild ? Kind.General
            : _pieces.Length == 1 && !leadingStar && trailingStar ? Kind.Prefix
            : _pieces.Length == 1 && leadingStar && !trailingStar ? Kind.Suffix
            : Kind.General;
    }

    /// <summary>The pattern as written (wildcards as <c>*</c>/<c>?</c>); for display only.</summary>
    public string Text { get; }

    /// <summary>True when the pattern is a plain string without wildcards.</summary>
    public bool IsLiteral => _kind == Kind.Exact && _pieces.All(p => p.Wild is null);

    /// <summary>A glob in which every <c>*</c> and <c>?</c> is a wildcard.</summary>
    public static GlobPattern Parse(string pattern)
    {
        var builder = new Builder();
        foreach (var c in pattern)
        {
            switch (c)
            {
                case '*':
                    builder.AppendAnyRun();
                    break;
                case '?':
                    builder.AppendAnyChar();
                    break;
                default:
                    builder.AppendLiteral(c);
                    break;
            }
        }
        return builder.Build();
    }

    /// <summary>A pattern that matches only <paramref name="literal"/> itself.</summary>
    public static GlobPattern Literal(string literal)
    {
        var builder = new Builder();
        builder.AppendLiteral(literal);
        return builder.Build();
    }

    public bool IsMatch(ReadOnlySpan<char> input)
    {
        switch (_kind)
        {
            case Kind.Any:
                return true;
            case Kind.Exact:
                return input.Length == _minLength && (_pieces.Length == 0 || _pieces[0].MatchesAt(input, 0));
            case Kind.Prefix:
                return input.StartsWith(_pieces[0].Text, StringComparison.Ordinal);
            case Kind.Suffix:
                return input.EndsWith(_pieces[0].Text, StringComparison.Ordinal);
            default:
                return MatchGeneral(input);
        }
    }

    bool MatchGeneral(ReadOnlySpan<char> input)
    {
        if (input.Length < _minLength)
        {
            return false;
        }
        var first = 0;
        var last = _pieces.Length - 1;
        var start = 0;
        var end = input.Length;
        if (!_leadingStar)
        {
            if (!_pieces[0].MatchesAt(input, 0))
            {
                return false;
            }
            start = _pieces[0].Text.Length;
            first = 1;
        }
        if (!_trailingStar)
        {
            var piece = _pieces[last];
            var at = input.Length - piece.Text.Length;
            if (at < start || !piece.MatchesAt(input, at))
            {
                return false;
            }
            end = at;
            last--;
        }
        for (var i = first; i <= last; i++)
        {
            var found = _pieces[i].IndexIn(input[start..end]);
            if (found < 0)
            {
                return false;
            }
            start += found + _pieces[i].Text.Length;
        }
        return true;
    }

    /// <summary>A fixed-length piece between stars; <see cref="Wild"/> marks its <c>?</c> positions.</summary>
    readonly struct Piece(string text, bool[]? wild)
    {
        public string Text { get; } = text;

        public bool[]? Wild { get; } = wild;

        public bool MatchesAt(ReadOnlySpan<char> input, int at)
        {
            if (Wild is null)
            {
                return input.Slice(at, Text.Length).SequenceEqual(Text);
            }
            for (var i = 0; i < Text.Length; i++)
            {
                if (!Wild[i] && input[at + i] != Text[i])
                {
                    return false;
                }
            }
            return true;
        }

        public int IndexIn(ReadOnlySpan<char> input)
        {
            if (Wild is null)
            {
                return input.IndexOf(Text.AsSpan());
            }
            for (var at = 0; at + Text.Length <= input.Length; at++)
            {
                if (MatchesAt(input, at))
                {
                    return at;
                }
            }
            return -1;
        }
    }

    /// <summary>Builds a pattern from literal text (taken verbatim, even <c>*</c>) and explicit wildcards.</summary>
    public sealed class Builder
    {
        readonly List<Piece> _pieces = [];
        readonly System.Text.StringBuilder _current = new();
        readonly System.Text.StringBuilder _display = new();
        List<bool>? _wild;
        bool _leadingStar;
        bool _trailingStar;

        public Builder AppendLiteral(char c)
        {
            _wild?.Add(false);
            _current.Append(c);
            _display.Append(c);
            _trailingStar = false;
            return this;
        }

        public Builder AppendLiteral(string text)
        {
            foreach (var c in text)
            {
                AppendLiteral(c);
            }
            return this;
        }

        public Builder AppendAnyChar()
        {
            _wild ??= [.. Enumerable.Repeat(false, _current.Length)];
            _wild.Add(true);
            _current.Append('?');
            _display.Append('?');
            _trailingStar = false;
            return this;
        }

        public Builder AppendAnyRun()
        {
            if (_trailingStar)
            {
                return this; // "**" is "*"
            }
            if (_current.Length == 0 && _pieces.Count == 0)
            {
                _leadingStar = true;
            }
            Flush();
            _trailingStar = true;
            _display.Append('*');
            return this;
        }

        void Flush()
        {
            if (_current.Length > 0)
            {
                _pieces.Add(new Piece(_current.ToString(), _wild?.ToArray()));
            }
            _current.Clear();
            _wild = null;
        }

        public GlobPattern Build()
        {
            var trailing = _trailingStar;
            Flush();
            return new GlobPattern(_pieces, _leadingStar, trailing, _display.ToString());
        }
    }
}
