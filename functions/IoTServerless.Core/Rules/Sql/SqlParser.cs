using System.Globalization;
using IoTServerless.Core.Topics;

namespace IoTServerless.Core.Rules.Sql;

internal enum SelectItemKind
{
    Expression,
    Star,
    NestedStar,
}

internal sealed record SelectItem(SelectItemKind Kind, Expr? Expression, string Name);

internal sealed record ParsedStatement(bool SelectValue, IReadOnlyList<SelectItem> Items, string TopicFilter, Expr? Where, IReadOnlyList<ShadowCallExpr> ShadowCalls);

/// <summary><c>expr.*</c> as a SELECT item: the object's fields merged into the output.</summary>
internal sealed class NestedStarExpr(Expr target, int position) : Expr(position)
{
    public Expr Target { get; } = target;

    public override IEnumerable<Expr> Children => [Target];

    public override SqlValue Eval(EvalContext context) => Target.Eval(context);
}

/// <summary>Recursive-descent parser of AWS IoT SQL 2016-03-23; builds the compiled expression tree directly.</summary>
internal sealed class SqlParser
{
    static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        "SELECT", "FROM", "WHERE", "AS", "AND", "OR", "NOT", "CASE", "WHEN", "THEN", "ELSE", "END", "IN", "TRUE", "FALSE", "NULL",
    };

    readonly SqlLexer _lexer;
    readonly List<ShadowCallExpr> _shadowCalls = [];
    Token _token;
    int _shadowArgsDepth;
    bool _allowNestedStar;

    SqlParser(string text, int start)
    {
        _lexer = new SqlLexer(text, start);
        _token = _lexer.Next();
    }

    public static ParsedStatement ParseStatement(string sql)
    {
        if (string.IsNullOrWhiteSpace(sql))
        {
            throw new RuleSqlException("Expected SELECT but found end of input", 1, 1);
        }
        return new SqlParser(sql, 0).Statement();
    }

    /// <summary>Parses one template expression starting at <paramref name="start"/>, up to its closing <c>}</c>; returns the offset after it.</summary>
    public static (Expr Expression, int End, IReadOnlyList<ShadowCallExpr> ShadowCalls) ParseTemplateExpression(string text, int start)
    {
        var parser = new SqlParser(text, start);
        var expression = parser.Expression();
        if (!parser._token.IsSymbol("}"))
        {
            throw parser.Expected("'}'");
        }
        return (expression, parser._token.Position + 1, parser._shadowCalls);
    }

    ParsedStatement Statement()
    {
        ExpectKeyword("SELECT");
        var selectValue = false;
        if (_token.IsKeyword("VALUE"))
        {
            // SELECT VALUE expr, unless 'value' is a field name: followed by FROM, AS, ',', '.', the end, or a binary operator.
            var next = _lexer.Peek();
            var isField = next.Kind == TokenKind.End
                || next.IsKeyword("FROM") || next.IsKeyword("AS") || next.IsKeyword("AND") || next.IsKeyword("OR") || next.IsKeyword("IN")
                || (next.Kind == TokenKind.Symbol && next.Text is "," or "." or "+" or "*" or "/" or "%" or "=" or "<>" or "!=" or "<" or "<=" or ">" or ">=");
            if (!isField)
            {
                selectValue = true;
                Advance();
            }
        }
        var items = new List<SelectItem> { SelectItem(1, selectValue) };
        while (_token.IsSymbol(","))
        {
            if (selectValue)
            {
                throw Error("SELECT VALUE takes a single expression", _token.Position);
            }
            Advance();
            items.Add(SelectItem(items.Count + 1, false));
        }
        ExpectKeyword("FROM");
        if (_token.Kind != TokenKind.String)
        {
            throw Expected("a quoted topic filter");
        }
        var filter = _token.Text;
        if (!MqttTopic.IsValidFilter(filter))
        {
            throw Error($"Invalid topic filter '{filter}'", _token.Position);
        }
        Advance();
        Expr? where = null;
        if (_token.IsKeyword("WHERE"))
        {
            Advance();
            where = Expression();
        }
        if (_token.Kind != TokenKind.End)
        {
            throw Expected(where is null ? "WHERE or end of statement" : "an operator or end of statement");
        }
        return new ParsedStatement(selectValue, items, filter, where, _shadowCalls);
    }

    SelectItem SelectItem(int index, bool selectValue)
    {
        if (_token.IsSymbol("*") && !selectValue)
        {
            var star = _token;
            Advance();
            if (_token.IsKeyword("AS"))
            {
                throw Error("'*' cannot have an alias", _token.Position);
            }
            _ = star;
            return new SelectItem(SelectItemKind.Star, null, "*");
        }
        _allowNestedStar = !selectValue;
        var expression = Expression();
        _allowNestedStar = false;
        return SelectItemFrom(expression, index);
    }

    SelectItem SelectItemFrom(Expr expression, int index)
    {
        if (expression is NestedStarExpr nested)
        {
            if (_token.IsKeyword("AS"))
            {
                throw Error("'.*' cannot have an alias", _token.Position);
            }
            return new SelectItem(SelectItemKind.NestedStar, nested.Target, "*");
        }
        if (expression.DescendantsAndSelf().Any(e => e is NestedStarExpr))
        {
            throw Error("'.*' is allowed only as a whole SELECT item", expression.DescendantsAndSelf().First(e => e is NestedStarExpr).Position);
        }
        string name;
        if (_token.IsKeyword("AS"))
        {
            Advance();
            if (_token.Kind is TokenKind.QuotedIdentifier or TokenKind.String || (_token.Kind == TokenKind.Identifier && !Reserved.Contains(_token.Text)))
            {
                name = _token.Text;
                Advance();
            }
            else
            {
                throw Expected("a name after AS");
            }
        }
        else
        {
            name = expression switch
            {
                FieldExpr field => field.Name,
                MemberExpr member => member.Name,
                CallExpr call => call.Name,
                _ => "_" + index.ToString(CultureInfo.InvariantCulture),
            };
        }
        return new SelectItem(SelectItemKind.Expression, expression, name);
    }

    const int MaxDepth = 200;
    int _depth;

    Expr Expression()
    {
        Enter();
        var expression = OrRest(AndRest(NotLevel()));
        _depth--;
        return expression;
    }

    /// <summary>Bounds nesting so hostile SQL cannot exhaust the stack.</summary>
    void Enter()
    {
        if (++_depth > MaxDepth)
        {
            throw Error($"Expression nested deeper than {MaxDepth} levels", _token.Position);
        }
    }

    Expr OrRest(Expr left)
    {
        var depth = _depth;
        while (_token.IsKeyword("OR"))
        {
            var position = _token.Position;
            Advance();
            Enter();
            left = new LogicalExpr(false, left, AndRest(NotLevel()), position);
        }
        _depth = depth;
        return left;
    }

    Expr AndRest(Expr left)
    {
        var depth = _depth;
        while (_token.IsKeyword("AND"))
        {
            var position = _token.Position;
            Advance();
            Enter();
            left = new LogicalExpr(true, left, NotLevel(), position);
        }
        _depth = depth;
        return left;
    }

    Expr NotLevel()
    {
        if (_token.IsKeyword("NOT"))
        {
            var position = _token.Position;
            Advance();
            Enter();
            var operand = NotLevel();
            _depth--;
            return new NotExpr(operand, position);
        }
        return ComparisonRest(AdditiveRest(MultiplicativeRest(Unary())));
    }

    Expr ComparisonRest(Expr left)
    {
        var token = _token;
        if (token.Kind == TokenKind.Symbol && token.Text is "=" or "<>" or "!=" or "<" or "<=" or ">" or ">=")
        {
            Advance();
            var right = AdditiveRest(MultiplicativeRest(Unary()));
            return token.Text switch
            {
                "=" => new EqualsExpr(false, left, right, token.Position),
                "<>" or "!=" => new EqualsExpr(true, left, right, token.Position),
                "<" => new CompareExpr(CompareOp.Less, left, right, token.Position),
                "<=" => new CompareExpr(CompareOp.LessOrEqual, left, right, token.Position),
                ">" => new CompareExpr(CompareOp.Greater, left, right, token.Position),
                _ => new CompareExpr(CompareOp.GreaterOrEqual, left, right, token.Position),
            };
        }
        if (token.IsKeyword("IN"))
        {
            Advance();
            return new InExpr(left, AdditiveRest(MultiplicativeRest(Unary())), token.Position);
        }
        return left;
    }

    Expr AdditiveRest(Expr left)
    {
        var depth = _depth;
        while (_token.IsSymbol("+") || _token.IsSymbol("-"))
        {
            var token = _token;
            Advance();
            Enter();
            left = new ArithmeticExpr(token.Text == "+" ? ArithmeticOp.Add : ArithmeticOp.Subtract, left, MultiplicativeRest(Unary()), token.Position);
        }
        _depth = depth;
        return left;
    }

    Expr MultiplicativeRest(Expr left)
    {
        var depth = _depth;
        while (_token.IsSymbol("*") || _token.IsSymbol("/") || _token.IsSymbol("%"))
        {
            var token = _token;
            Advance();
            Enter();
            var op = token.Text switch
            {
                "*" => ArithmeticOp.Multiply,
                "/" => ArithmeticOp.Divide,
                _ => ArithmeticOp.Modulo,
            };
            left = new ArithmeticExpr(op, left, Unary(), token.Position);
        }
        _depth = depth;
        return left;
    }

    Expr Unary()
    {
        if (_token.IsSymbol("-"))
        {
            var position = _token.Position;
            Advance();
            Enter();
            var operand = Unary();
            _depth--;
            return operand is LiteralExpr { Value.Type: SqlType.Int or SqlType.Decimal } literal
                ? new LiteralExpr(literal.Value.Type == SqlType.Int ? SqlValue.Int(-literal.Value.IntValue) : SqlValue.Decimal(-literal.Value.DecimalValue), position)
                : new NegateExpr(operand, position);
        }
        if (_token.IsSymbol("+"))
        {
            Advance();
            Enter();
            var operand = Unary();
            _depth--;
            return operand;
        }
        return Postfix(Primary());
    }

    Expr Postfix(Expr expression)
    {
        var depth = _depth;
        try
        {
            return PostfixChain(expression);
        }
        finally
        {
            _depth = depth;
        }
    }

    Expr PostfixChain(Expr expression)
    {
        while (true)
        {
            if (_token.IsSymbol(".") || _token.IsSymbol("["))
            {
                Enter();
            }
            if (_token.IsSymbol("."))
            {
                var dot = _token;
                Advance();
                if (_token.IsSymbol("*"))
                {
                    if (!_allowNestedStar)
                    {
                        throw Error("'.*' is allowed only as a whole SELECT item", _token.Position);
                    }
                    Advance();
                    return new NestedStarExpr(expression, dot.Position);
                }
                if (_token.Kind is not (TokenKind.Identifier or TokenKind.QuotedIdentifier))
                {
                    throw Expected("a field name after '.'");
                }
                expression = new MemberExpr(expression, _token.Text, _token.Position);
                Advance();
            }
            else if (_token.IsSymbol("["))
            {
                var position = _token.Position;
                Advance();
                var index = Expression();
                Expect("]");
                expression = new IndexExpr(expression, index, position);
            }
            else
            {
                return expression;
            }
        }
    }

    Expr Primary()
    {
        var token = _token;
        switch (token.Kind)
        {
            case TokenKind.Int:
                Advance();
                return new LiteralExpr(SqlValue.Int(long.Parse(token.Text, CultureInfo.InvariantCulture)), token.Position);
            case TokenKind.Decimal:
                Advance();
                return new LiteralExpr(SqlValue.Decimal(double.Parse(token.Text, CultureInfo.InvariantCulture)), token.Position);
            case TokenKind.String:
                Advance();
                return new LiteralExpr(SqlValue.String(token.Text), token.Position);
            case TokenKind.QuotedIdentifier:
                Advance();
                return new FieldExpr(token.Text, token.Position);
            case TokenKind.Symbol when token.Text == "(":
                Advance();
                var saved = _allowNestedStar;
                _allowNestedStar = false;
                var inner = Expression();
                _allowNestedStar = saved;
                Expect(")");
                return inner;
            case TokenKind.Symbol when token.Text == "{":
                return ObjectLiteral();
            case TokenKind.Symbol when token.Text == "[":
                return ArrayLiteral();
            case TokenKind.Identifier:
                if (token.IsKeyword("TRUE") || token.IsKeyword("FALSE"))
                {
                    Advance();
                    return new LiteralExpr(SqlValue.Bool(token.IsKeyword("TRUE")), token.Position);
                }
                if (token.IsKeyword("NULL"))
                {
                    Advance();
                    return new LiteralExpr(SqlValue.Null, token.Position);
                }
                if (token.IsKeyword("CASE"))
                {
                    return Case();
                }
                if (Reserved.Contains(token.Text))
                {
                    throw Expected("an expression");
                }
                Advance();
                if (_token.IsSymbol("("))
                {
                    return Call(token);
                }
                return Field(token);
            default:
                throw Expected("an expression");
        }
    }

    static FieldExpr Field(Token token) => new(token.Text, token.Position);

    Expr ObjectLiteral()
    {
        var position = _token.Position;
        Advance();
        var keys = new List<string>();
        var values = new List<Expr>();
        var saved = _allowNestedStar;
        _allowNestedStar = false;
        if (!_token.IsSymbol("}"))
        {
            while (true)
            {
                if (_token.Kind is not (TokenKind.String or TokenKind.Identifier or TokenKind.QuotedIdentifier))
                {
                    throw Expected("a quoted key");
                }
                keys.Add(_token.Text);
                Advance();
                Expect(":");
                values.Add(Expression());
                if (!_token.IsSymbol(","))
                {
                    break;
                }
                Advance();
            }
        }
        _allowNestedStar = saved;
        Expect("}");
        return new ObjectLiteralExpr([.. keys], [.. values], position);
    }

    Expr ArrayLiteral()
    {
        var position = _token.Position;
        Advance();
        var items = new List<Expr>();
        var saved = _allowNestedStar;
        _allowNestedStar = false;
        if (!_token.IsSymbol("]"))
        {
            while (true)
            {
                items.Add(Expression());
                if (!_token.IsSymbol(","))
                {
                    break;
                }
                Advance();
            }
        }
        _allowNestedStar = saved;
        Expect("]");
        return new ArrayLiteralExpr([.. items], position);
    }

    Expr Case()
    {
        var position = _token.Position;
        Advance();
        var saved = _allowNestedStar;
        _allowNestedStar = false;
        Expr? subject = null;
        if (!_token.IsKeyword("WHEN"))
        {
            subject = Expression();
        }
        var whens = new List<Expr>();
        var thens = new List<Expr>();
        if (!_token.IsKeyword("WHEN"))
        {
            throw Expected("WHEN");
        }
        while (_token.IsKeyword("WHEN"))
        {
            Advance();
            whens.Add(Expression());
            ExpectKeyword("THEN");
            thens.Add(Expression());
        }
        Expr? otherwise = null;
        if (_token.IsKeyword("ELSE"))
        {
            Advance();
            otherwise = Expression();
        }
        ExpectKeyword("END");
        _allowNestedStar = saved;
        return new CaseExpr(subject, [.. whens], [.. thens], otherwise, position);
    }

    Expr Call(Token name)
    {
        var lower = name.Text.ToLowerInvariant();
        if (!SqlFunctions.TryGet(lower, out var function))
        {
            throw Error($"Unknown function '{name.Text}'", name.Position);
        }
        Expect("(");
        var saved = _allowNestedStar;
        _allowNestedStar = false;
        var args = new List<Expr>();
        var isShadow = lower == "get_thing_shadow";
        if (isShadow)
        {
            _shadowArgsDepth++;
        }
        if (lower == "cast")
        {
            args.Add(Expression());
            ExpectKeyword("AS");
            if (_token.Kind != TokenKind.Identifier || !SqlFunctions.IsCastType(_token.Text))
            {
                throw Expected("a type (Int, Decimal, String, Boolean…) after AS");
            }
            args.Add(new LiteralExpr(SqlValue.String(_token.Text.ToLowerInvariant()), _token.Position));
            Advance();
        }
        else if (!_token.IsSymbol(")"))
        {
            while (true)
            {
                if (_token.IsSymbol("*") && function.AcceptsStar)
                {
                    args.Add(new StarExpr(_token.Position));
                    Advance();
                }
                else
                {
                    args.Add(Expression());
                }
                if (!_token.IsSymbol(","))
                {
                    break;
                }
                Advance();
            }
        }
        if (!_token.IsSymbol(")"))
        {
            throw Expected(args.Count < function.MaxArgs ? "',' or ')'" : "')'");
        }
        Advance();
        _allowNestedStar = saved;
        if (args.Count < function.MinArgs || args.Count > function.MaxArgs)
        {
            var expected = function.MinArgs == function.MaxArgs
                ? function.MinArgs.ToString(CultureInfo.InvariantCulture)
                : function.MaxArgs == int.MaxValue
                    ? $"at least {function.MinArgs}"
                    : $"{function.MinArgs} to {function.MaxArgs}";
            throw Error($"Function '{lower}' takes {expected} argument(s), got {args.Count}", name.Position);
        }
        if (isShadow)
        {
            _shadowArgsDepth--;
            if (_shadowArgsDepth > 0)
            {
                throw Error("get_thing_shadow cannot be nested in another get_thing_shadow call", name.Position);
            }
            var call = args.Count == 2
                ? new ShadowCallExpr(args[0], null, args[1], name.Position)
                : new ShadowCallExpr(args[0], args[1], args[2], name.Position);
            call.ShadowIndex = _shadowCalls.Count;
            _shadowCalls.Add(call);
            return call;
        }
        return function.Build(lower, [.. args], name.Position);
    }

    void Advance() => _token = _lexer.Next();

    void Expect(string symbol)
    {
        if (!_token.IsSymbol(symbol))
        {
            throw Expected($"'{symbol}'");
        }
        Advance();
    }

    void ExpectKeyword(string keyword)
    {
        if (!_token.IsKeyword(keyword))
        {
            throw Expected(keyword);
        }
        Advance();
    }

    RuleSqlException Expected(string what) => Error($"Expected {what} but found {_token.Describe()}", _token.Position);

    RuleSqlException Error(string message, int position) => _lexer.Error(message, position);
}
