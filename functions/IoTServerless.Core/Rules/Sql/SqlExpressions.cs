using System.Runtime.CompilerServices;

namespace IoTServerless.Core.Rules.Sql;

/// <summary>A compiled expression node: evaluation is a virtual call per node, no parsing or reflection.</summary>
internal abstract class Expr
{
    protected Expr(int position) => Position = position;

    /// <summary>The offset in the source text (for error messages and default names).</summary>
    public int Position { get; }

    public abstract SqlValue Eval(EvalContext context);

    /// <summary>The child expressions (for compile-time analysis).</summary>
    public virtual IEnumerable<Expr> Children => [];

    public IEnumerable<Expr> DescendantsAndSelf()
    {
        yield return this;
        foreach (var child in Children)
        {
            foreach (var descendant in child.DescendantsAndSelf())
            {
                yield return descendant;
            }
        }
    }
}

internal sealed class LiteralExpr(SqlValue value, int position) : Expr(position)
{
    public SqlValue Value { get; } = value;

    public override SqlValue Eval(EvalContext context) => Value;
}

/// <summary>A top-level payload field, read from the slot the payload scan filled.</summary>
internal sealed class FieldExpr(string name, int position) : Expr(position)
{
    public string Name { get; } = name;

    /// <summary>Assigned at compile time, once all fields are known.</summary>
    public int Slot { get; set; } = -1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public override SqlValue Eval(EvalContext context) => context.Slots[Slot];
}

/// <summary><c>*</c> as a value: the whole payload when it is JSON.</summary>
internal sealed class StarExpr(int position) : Expr(position)
{
    public override SqlValue Eval(EvalContext context) => context.Root;
}

internal sealed class MemberExpr(Expr target, string name, int position) : Expr(position)
{
    public Expr Target { get; } = target;

    public string Name { get; } = name;

    public override IEnumerable<Expr> Children => [Target];

    public override SqlValue Eval(EvalContext context)
    {
        var target = Target.Eval(context);
        return target.Type == SqlType.Object ? target.ObjectValue.Get(Name) : SqlValue.Undefined;
    }
}

internal sealed class IndexExpr(Expr target, Expr index, int position) : Expr(position)
{
    public override IEnumerable<Expr> Children => [target, index];

    public override SqlValue Eval(EvalContext context) => SqlFunctions.Get(target.Eval(context), index.Eval(context));
}

internal enum ArithmeticOp
{
    Add,
    Subtract,
    Multiply,
    Divide,
    Modulo,
}

internal sealed class ArithmeticExpr(ArithmeticOp op, Expr left, Expr right, int position) : Expr(position)
{
    public override IEnumerable<Expr> Children => [left, right];

    public override SqlValue Eval(EvalContext context) => Apply(op, left.Eval(context), right.Eval(context));

    public static SqlValue Apply(ArithmeticOp op, in SqlValue l, in SqlValue r)
    {
        if (l.IsUndefined || r.IsUndefined)
        {
            return SqlValue.Undefined;
        }
        if (op == ArithmeticOp.Add && (l.Type == SqlType.String || r.Type == SqlType.String))
        {
            var ls = l.ToSqlString();
            var rs = r.ToSqlString();
            return ls is null || rs is null ? SqlValue.Undefined : SqlValue.String(string.Concat(ls, rs));
        }
        if (l.Type == SqlType.Int && r.Type == SqlType.Int)
        {
            long a = l.IntValue, b = r.IntValue;
            switch (op)
            {
                case ArithmeticOp.Add:
                    return SqlValue.Int(unchecked(a + b));
                case ArithmeticOp.Subtract:
                    return SqlValue.Int(unchecked(a - b));
                case ArithmeticOp.Multiply:
                    return SqlValue.Int(unchecked(a * b));
                case ArithmeticOp.Divide:
                    return b == 0 || (a == long.MinValue && b == -1) ? SqlValue.Undefined : SqlValue.Int(a / b);
                default:
                    return b == 0 ? SqlValue.Undefined : b == -1 ? SqlValue.Int(0) : SqlValue.Int(a % b);
            }
        }
        // + takes numbers only; - * / % also take strings that convert to decimals.
        if (op == ArithmeticOp.Add ? !(l.IsNumber && r.IsNumber) : !(l.TryToDecimal(out _) && r.TryToDecimal(out _)))
        {
            return SqlValue.Undefined;
        }
        l.TryToDecimal(out var x);
        r.TryToDecimal(out var y);
        if (y == 0 && op is ArithmeticOp.Divide or ArithmeticOp.Modulo)
        {
            return SqlValue.Undefined;
        }
        return SqlValue.Decimal(DecimalArithmetic(op, x, y));
    }

    const double DecimalRange = 7.9e27;

    /// <summary>
    /// + - * % in base 10 where it fits (AWS computes with BigDecimal, so 0.1 + 0.2 is 0.3 and 21.5 * 1.8 + 32
    /// is 70.7); the operands' 15 significant digits are kept. Division, and anything out of range, in doubles.
    /// </summary>
    static double DecimalArithmetic(ArithmeticOp op, double x, double y)
    {
        if (op != ArithmeticOp.Divide && Math.Abs(x) < DecimalRange && Math.Abs(y) < DecimalRange)
        {
            try
            {
                var a = (decimal)x;
                var b = (decimal)y;
                return (double)(op switch
                {
                    ArithmeticOp.Add => a + b,
                    ArithmeticOp.Subtract => a - b,
                    ArithmeticOp.Multiply => a * b,
                    _ => a % b,
                });
            }
            catch (OverflowException)
            {
                // Out of decimal's range: fall back to doubles.
            }
        }
        return op switch
        {
            ArithmeticOp.Add => x + y,
            ArithmeticOp.Subtract => x - y,
            ArithmeticOp.Multiply => x * y,
            ArithmeticOp.Divide => x / y,
            _ => x % y,
        };
    }
}

internal sealed class NegateExpr(Expr operand, int position) : Expr(position)
{
    public override IEnumerable<Expr> Children => [operand];

    public override SqlValue Eval(EvalContext context)
    {
        var value = operand.Eval(context);
        return value.Type switch
        {
            SqlType.Int => SqlValue.Int(unchecked(-value.IntValue)),
            SqlType.Decimal => SqlValue.Decimal(-value.DecimalValue),
            SqlType.String when value.TryToDecimal(out var d) => SqlValue.Decimal(-d),
            _ => SqlValue.Undefined,
        };
    }
}

internal enum CompareOp
{
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

/// <summary><c>&lt; &lt;= &gt; &gt;=</c>: both sides converted to Decimal (numeric strings too); otherwise Undefined.</summary>
internal sealed class CompareExpr(CompareOp op, Expr left, Expr right, int position) : Expr(position)
{
    public override IEnumerable<Expr> Children => [left, right];

    public override SqlValue Eval(EvalContext context)
    {
        var l = left.Eval(context);
        var r = right.Eval(context);
        return Apply(op, l, r);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static SqlValue Apply(CompareOp op, in SqlValue l, in SqlValue r)
    {
        int c;
        if (l.Type == SqlType.Int && r.Type == SqlType.Int)
        {
            c = l.IntValue.CompareTo(r.IntValue);
        }
        else if (l.TryToDecimal(out var x) && r.TryToDecimal(out var y))
        {
            c = x.CompareTo(y);
        }
        else
        {
            return SqlValue.Undefined;
        }
        return SqlValue.Bool(op switch
        {
            CompareOp.Less => c < 0,
            CompareOp.LessOrEqual => c <= 0,
            CompareOp.Greater => c > 0,
            _ => c >= 0,
        });
    }
}

/// <summary><c>=</c>, and <c>&lt;&gt;</c>/<c>!=</c> when negated.</summary>
internal sealed class EqualsExpr(bool negate, Expr left, Expr right, int position) : Expr(position)
{
    public override IEnumerable<Expr> Children => [left, right];

    public override SqlValue Eval(EvalContext context)
    {
        var result = SqlValue.EqualsOperator(left.Eval(context), right.Eval(context));
        return negate && !result.IsUndefined ? SqlValue.Bool(!result.BooleanValue) : result;
    }
}

internal sealed class InExpr(Expr left, Expr right, int position) : Expr(position)
{
    public override IEnumerable<Expr> Children => [left, right];

    public override SqlValue Eval(EvalContext context)
    {
        var value = left.Eval(context);
        var list = right.Eval(context);
        if (value.IsUndefined || list.Type != SqlType.Array)
        {
            return SqlValue.Undefined;
        }
        foreach (var item in list.ArrayValue)
        {
            if (SqlValue.DeepEquals(value, item))
            {
                return SqlValue.True;
            }
        }
        return SqlValue.False;
    }
}

/// <summary>AND/OR over Booleans or "true"/"false" strings; anything else makes the result Undefined.</summary>
internal sealed class LogicalExpr(bool isAnd, Expr left, Expr right, int position) : Expr(position)
{
    public override IEnumerable<Expr> Children => [left, right];

    public override SqlValue Eval(EvalContext context)
    {
        if (!left.Eval(context).TryToBoolean(out var a) || !right.Eval(context).TryToBoolean(out var b))
        {
            return SqlValue.Undefined;
        }
        return SqlValue.Bool(isAnd ? a && b : a || b);
    }
}

internal sealed class NotExpr(Expr operand, int position) : Expr(position)
{
    public override IEnumerable<Expr> Children => [operand];

    public override SqlValue Eval(EvalContext context) =>
        operand.Eval(context).TryToBoolean(out var b) ? SqlValue.Bool(!b) : SqlValue.Undefined;
}

/// <summary>Simple (<c>CASE v WHEN t THEN r</c>, matched with =) or searched (<c>CASE WHEN cond THEN r</c>) CASE.</summary>
internal sealed class CaseExpr(Expr? subject, Expr[] whens, Expr[] thens, Expr? otherwise, int position) : Expr(position)
{
    public override IEnumerable<Expr> Children
    {
        get
        {
            var children = new List<Expr>();
            if (subject is not null)
            {
                children.Add(subject);
            }
            children.AddRange(whens);
            children.AddRange(thens);
            if (otherwise is not null)
            {
                children.Add(otherwise);
            }
            return children;
        }
    }

    public override SqlValue Eval(EvalContext context)
    {
        if (subject is not null)
        {
            var value = subject.Eval(context);
            if (value.IsUndefined)
            {
                return SqlValue.Undefined;
            }
            for (var i = 0; i < whens.Length; i++)
            {
                var candidate = whens[i].Eval(context);
                if (!candidate.IsUndefined && SqlValue.DeepEquals(value, candidate))
                {
                    return thens[i].Eval(context);
                }
            }
        }
        else
        {
            for (var i = 0; i < whens.Length; i++)
            {
                var condition = whens[i].Eval(context);
                if (condition.Type == SqlType.Boolean && condition.BooleanValue)
                {
                    return thens[i].Eval(context);
                }
            }
        }
        return otherwise is null ? SqlValue.Undefined : otherwise.Eval(context);
    }
}

internal sealed class ObjectLiteralExpr(string[] keys, Expr[] values, int position) : Expr(position)
{
    public override IEnumerable<Expr> Children => values;

    public override SqlValue Eval(EvalContext context)
    {
        var obj = new SqlObject(keys.Length);
        for (var i = 0; i < keys.Length; i++)
        {
            obj.Set(keys[i], values[i].Eval(context));
        }
        return SqlValue.Object(obj);
    }
}

internal sealed class ArrayLiteralExpr(Expr[] items, int position) : Expr(position)
{
    public override IEnumerable<Expr> Children => items;

    public override SqlValue Eval(EvalContext context)
    {
        var values = new List<SqlValue>(items.Length);
        foreach (var item in items)
        {
            var value = item.Eval(context);
            if (!value.IsUndefined)
            {
                values.Add(value);
            }
        }
        return SqlValue.Array([.. values]);
    }
}

/// <summary>A function call; <see cref="Name"/> is the lower-case function name (the default SELECT name).</summary>
internal abstract class CallExpr(string name, Expr[] args, int position) : Expr(position)
{
    public string Name { get; } = name;

    public Expr[] Args { get; } = args;

    public override IEnumerable<Expr> Children => Args;

    /// <summary>A function's own failure on odd input (overflow, bad format…) is a type error: Undefined, never an exception out of the rule.</summary>
    protected static bool IsTypeError(Exception e) => e is ArithmeticException or ArgumentException or FormatException or IndexOutOfRangeException or InvalidCastException;
}

internal sealed class Call0(string name, Func<EvalContext, SqlValue> body, int position) : CallExpr(name, [], position)
{
    public override SqlValue Eval(EvalContext context) => body(context);
}

internal sealed class Call1(string name, Expr a, Func<SqlValue, SqlValue> body, int position) : CallExpr(name, [a], position)
{
    public override SqlValue Eval(EvalContext context)
    {
        var x = a.Eval(context);
        try
        {
            return body(x);
        }
        catch (Exception e) when (IsTypeError(e))
        {
            return SqlValue.Undefined;
        }
    }
}

internal sealed class Call2(string name, Expr a, Expr b, Func<SqlValue, SqlValue, SqlValue> body, int position) : CallExpr(name, [a, b], position)
{
    public override SqlValue Eval(EvalContext context)
    {
        var x = a.Eval(context);
        var y = b.Eval(context);
        try
        {
            return body(x, y);
        }
        catch (Exception e) when (IsTypeError(e))
        {
            return SqlValue.Undefined;
        }
    }
}

internal sealed class CallN(string name, Expr[] args, Func<SqlValue[], EvalContext, SqlValue> body, int position) : CallExpr(name, args, position)
{
    public override SqlValue Eval(EvalContext context)
    {
        var values = new SqlValue[Args.Length];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = Args[i].Eval(context);
        }
        try
        {
            return body(values, context);
        }
        catch (Exception e) when (IsTypeError(e))
        {
            return SqlValue.Undefined;
        }
    }
}

/// <summary>get_thing_shadow(thing[, shadow], roleArn): reads the shadow fetched before the synchronous evaluation.</summary>
internal sealed class ShadowCallExpr(Expr thing, Expr? shadow, Expr roleArn, int position)
    : CallExpr("get_thing_shadow", shadow is null ? [thing, roleArn] : [thing, shadow, roleArn], position)
{
    public Expr Thing { get; } = thing;

    public Expr? Shadow { get; } = shadow;

    /// <summary>Index into <see cref="EvalContext.Shadows"/>, assigned at compile time.</summary>
    public int ShadowIndex { get; set; }

    public override SqlValue Eval(EvalContext context)
    {
        var shadows = context.Shadows;
        return shadows is null || ShadowIndex >= shadows.Length ? SqlValue.Undefined : shadows[ShadowIndex];
    }
}
