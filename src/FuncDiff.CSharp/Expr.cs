namespace FuncDiff;

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using CoreExpr = FuncDiff.Expressions.Expr;
using static FuncDiff.Interop;

/// <summary>
/// An immutable expression over tensors: an input, a constant, or a primitive applied to expressions.
/// Shape and dtype are known when it is built, and a mismatch throws <see cref="ExprException"/> naming the
/// operation and both shapes. Every method returns a new expression; nothing is recorded and nothing mutates.
/// </summary>
/// <remarks>
/// <para>
/// Arithmetic: <c>+ - * /</c> between expressions or with a <see cref="double"/> on either side (the number takes
/// the other operand's dtype), unary <c>-</c>. Comparisons <c>&lt; &lt;= &gt; &gt;=</c> build bool expressions,
/// never a <see cref="bool"/>, so <c>if (x &gt; 0)</c> does not compile: branch in the graph with
/// <see cref="Where(Expr, Expr, Expr)"/>. <c>&amp; | !</c> combine bool expressions; <c>&amp;&amp;</c> and <c>||</c> do
/// not compile, because they would need an expression to be true or false.
/// </para>
/// <para>
/// Equality: <c>==</c>, <c>!=</c> and <see cref="Equals(Expr?)"/> all ask whether two expressions are the same
/// expression (structurally: two separately built <c>x * 2</c> are equal), and give a <see cref="bool"/>, as
/// <c>==</c> does for strings and records. Elementwise equality is <see cref="Eq(Expr)"/> and <see cref="Ne(Expr)"/>.
/// C# code compares references with <c>==</c> all the time (null checks, caches, dictionaries), so making <c>==</c>
/// build a graph would silently change what such code means; <c>x == 0.0</c> does not compile, which points the
/// way to <see cref="Eq(double)"/>.
/// </para>
/// </remarks>
public sealed partial class Expr : IEquatable<Expr>
{
    internal Expr(CoreExpr core) => Core = core;

    internal CoreExpr Core { get; }

    /// <summary>The inputs this expression depends on, each once: what a binding must give a tensor for.</summary>
    public IReadOnlyList<Expr> Inputs => [.. Functions.inputsOf(Core).Select(e => new Expr(e))];

    // ---- Leaves -------------------------------------------------------------------------------------

    /// <summary>A named float64 input, bound to a tensor when the expression is evaluated.</summary>
    /// <param name="name">An identifier (letters, digits and <c>_</c>, not starting with a digit) that is neither a primitive's name nor a reserved word.</param>
    /// <param name="shape">The dimensions; none for a scalar.</param>
    /// <exception cref="ExprException">The name is not allowed or a dimension is negative.</exception>
    public static Expr Input(string name, params int[] shape) => Input(name, DType.Float64, shape);

    /// <summary>A named input of the given dtype, bound to a tensor when the expression is evaluated.</summary>
    /// <param name="name">An identifier (letters, digits and <c>_</c>, not starting with a digit) that is neither a primitive's name nor a reserved word.</param>
    /// <param name="dtype">The element type the bound tensor must have.</param>
    /// <param name="shape">The dimensions; none for a scalar.</param>
    /// <exception cref="ExprException">The name is not allowed or a dimension is negative.</exception>
    public static Expr Input(string name, DType dtype, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        return new(CoreExpr.Input(name, shape, Some(dtype.ToCore())));
    }

    /// <summary>
    /// Reads an expression from text over the declared <paramref name="inputs"/>, e.g.
    /// <c>Expr.Parse("sum((x - mean(x)) ^ 2)", Expr.Input("x", 4))</c>. The text is the language
    /// <see cref="ToString"/> writes, so printing and parsing round-trip to an equal expression.
    /// </summary>
    /// <remarks>
    /// Infix <c>+ - * / ^</c> (power, right-associative) and <c>@</c> (matrix product), unary <c>-</c>, comparisons
    /// <c>&lt; &lt;= &gt; &gt;= == !=</c> (they do not chain), parentheses; numbers (<c>2</c>, <c>0.5</c>, <c>1e-3</c>,
    /// <c>nan</c>, <c>inf</c>) are float64 unless they stand beside an operand of another numeric dtype, whose dtype
    /// they take; <c>true</c>/<c>false</c> are bool; tensor literals <c>[[1, 2], [3, 4]]</c> are rectangular;
    /// <c>let name = … in …</c> names a subexpression; every primitive is a function by its name, with keyword
    /// attributes: <c>sum(x, axis=0, keepdims=true)</c>, <c>cast(x, dtype=float32)</c>.
    /// </remarks>
    /// <param name="text">The expression text.</param>
    /// <param name="inputs">
    /// The inputs the text may use, made with <see cref="Input(string, int[])"/>: they give the names, shapes and
    /// dtypes of its identifiers. One name may appear twice only with the same shape and dtype.
    /// </param>
    /// <exception cref="ParseException">
    /// The text is not an expression over <paramref name="inputs"/>. <see cref="ParseException.Line"/> and
    /// <see cref="ParseException.Column"/> (1-based) point at the offending token and
    /// <see cref="ParseException.Reason"/> says what is wrong. Its <see cref="Exception.InnerException"/> is the
    /// <see cref="ExprException"/> when an operation's shapes or dtypes do not fit, the <see cref="InputException"/>
    /// naming the input when the text uses one that was not declared, and null for a syntax error.
    /// </exception>
    /// <exception cref="ArgumentException">An element of <paramref name="inputs"/> is not an input, or one name is declared with two shapes or dtypes.</exception>
    public static Expr Parse(string text, params Expr[] inputs)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(inputs);
        foreach (var input in inputs) ArgumentNullException.ThrowIfNull(input, nameof(inputs));
        return new(CoreExpr.Parse(text, Array.ConvertAll(inputs, i => i.Core)));
    }

    /// <summary>A constant tensor.</summary>
    /// <param name="value">The tensor; the expression keeps it as it is (it is immutable), or a copy of it when it is a
    /// result of <see cref="Plan.Run(Workspace)"/>, which the workspace's next run overwrites.</param>
    public static Expr Constant(Tensor value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new(CoreExpr.Constant(value.Core));
    }

    /// <summary>A rank-0 constant.</summary>
    /// <param name="value">The value.</param>
    /// <param name="dtype">Its dtype (float64 unless given).</param>
    public static Expr Scalar(double value, DType dtype = DType.Float64) => new(CoreExpr.Scalar(value, Some(dtype.ToCore())));

    // ---- Type ---------------------------------------------------------------------------------------

    /// <summary>The dimensions, known at construction; empty for a scalar. Prints as <c>[2, 3]</c> and compares by value.</summary>
    public IReadOnlyList<int> Shape => Core.Shape;

    /// <summary>The element type, known at construction.</summary>
    public DType DType => FromCore(Core.DType);

    /// <summary>The number of dimensions (0 for a scalar).</summary>
    public int Rank => Core.Rank;

    // ---- Equality and text --------------------------------------------------------------------------

    /// <summary>The expression as infix text; shared subexpressions are written once with <c>let name = … in</c>.</summary>
    public override string ToString() => Core.ToString();

    /// <summary>True when <paramref name="other"/> is the same expression (structurally); not an elementwise comparison, which is <see cref="Eq(Expr)"/>.</summary>
    /// <param name="other">The expression to compare with.</param>
    public bool Equals(Expr? other) => other is not null && Core.Equals(other.Core);

    /// <summary>True when <paramref name="obj"/> is an <see cref="Expr"/> that is the same expression.</summary>
    /// <param name="obj">The object to compare with.</param>
    public override bool Equals(object? obj) => Equals(obj as Expr);

    /// <summary>A structural hash, computed once when the expression is built, consistent with <see cref="Equals(Expr?)"/>.</summary>
    public override int GetHashCode() => Core.GetHashCode();

    /// <summary>Whether two expressions are the same expression, as <see cref="Equals(Expr?)"/>: a <see cref="bool"/>. For elementwise equality use <see cref="Eq(Expr)"/>.</summary>
    /// <param name="a">The first expression.</param>
    /// <param name="b">The second expression.</param>
    public static bool operator ==(Expr? a, Expr? b) => a is null ? b is null : a.Equals(b);

    /// <summary>The negation of <c>==</c>. For elementwise inequality use <see cref="Ne(Expr)"/>.</summary>
    /// <param name="a">The first expression.</param>
    /// <param name="b">The second expression.</param>
    public static bool operator !=(Expr? a, Expr? b) => !(a == b);

    // ---- Arithmetic operators -----------------------------------------------------------------------

    /// <summary>x + y elementwise, with NumPy broadcasting.</summary>
    /// <param name="x">The left operand.</param>
    /// <param name="y">The right operand.</param>
    public static Expr operator +(Expr x, Expr y) => new(CoreOf(x) + CoreOf(y));

    /// <summary>x + y, the number taking x's dtype.</summary>
    /// <param name="x">The expression.</param>
    /// <param name="y">The number.</param>
    public static Expr operator +(Expr x, double y) => new(CoreOf(x) + y);

    /// <summary>x + y, the number taking y's dtype.</summary>
    /// <param name="x">The number.</param>
    /// <param name="y">The expression.</param>
    public static Expr operator +(double x, Expr y) => new(x + CoreOf(y));

    /// <summary>x - y elementwise, with NumPy broadcasting.</summary>
    /// <param name="x">The left operand.</param>
    /// <param name="y">The right operand.</param>
    public static Expr operator -(Expr x, Expr y) => new(CoreOf(x) - CoreOf(y));

    /// <summary>x - y, the number taking x's dtype.</summary>
    /// <param name="x">The expression.</param>
    /// <param name="y">The number.</param>
    public static Expr operator -(Expr x, double y) => new(CoreOf(x) - y);

    /// <summary>x - y, the number taking y's dtype.</summary>
    /// <param name="x">The number.</param>
    /// <param name="y">The expression.</param>
    public static Expr operator -(double x, Expr y) => new(x - CoreOf(y));

    /// <summary>x · y elementwise, with NumPy broadcasting (the matrix product is <see cref="MatMul"/>).</summary>
    /// <param name="x">The left operand.</param>
    /// <param name="y">The right operand.</param>
    public static Expr operator *(Expr x, Expr y) => new(CoreOf(x) * CoreOf(y));

    /// <summary>x · y, the number taking x's dtype.</summary>
    /// <param name="x">The expression.</param>
    /// <param name="y">The number.</param>
    public static Expr operator *(Expr x, double y) => new(CoreOf(x) * y);

    /// <summary>x · y, the number taking y's dtype.</summary>
    /// <param name="x">The number.</param>
    /// <param name="y">The expression.</param>
    public static Expr operator *(double x, Expr y) => new(x * CoreOf(y));

    /// <summary>x / y elementwise, with NumPy broadcasting (IEEE: x/0 is ±∞, 0/0 is NaN); floating point only.</summary>
    /// <param name="x">The left operand.</param>
    /// <param name="y">The right operand.</param>
    public static Expr operator /(Expr x, Expr y) => new(CoreOf(x) / CoreOf(y));

    /// <summary>x / y, the number taking x's dtype.</summary>
    /// <param name="x">The expression.</param>
    /// <param name="y">The number.</param>
    public static Expr operator /(Expr x, double y) => new(CoreOf(x) / y);

    /// <summary>x / y, the number taking y's dtype.</summary>
    /// <param name="x">The number.</param>
    /// <param name="y">The expression.</param>
    public static Expr operator /(double x, Expr y) => new(x / CoreOf(y));

    /// <summary>-x elementwise.</summary>
    /// <param name="x">The operand.</param>
    public static Expr operator -(Expr x) => new(-CoreOf(x));

    // ---- Comparison operators: bool expressions, never bool -------------------------------------------

    /// <summary>x &lt; y elementwise as a bool expression (piecewise constant: derivative zero).</summary>
    /// <param name="x">The left operand.</param>
    /// <param name="y">The right operand.</param>
    public static Expr operator <(Expr x, Expr y) => new(CoreExpr.op_DotLess(CoreOf(x), CoreOf(y)));

    /// <summary>x &lt; y elementwise as a bool expression.</summary>
    /// <param name="x">The expression.</param>
    /// <param name="y">The number.</param>
    public static Expr operator <(Expr x, double y) => new(CoreExpr.op_DotLess(CoreOf(x), y));

    /// <summary>x &lt; y elementwise as a bool expression.</summary>
    /// <param name="x">The number.</param>
    /// <param name="y">The expression.</param>
    public static Expr operator <(double x, Expr y) => new(CoreExpr.op_DotLess(x, CoreOf(y)));

    /// <summary>x &gt; y elementwise as a bool expression (piecewise constant: derivative zero).</summary>
    /// <param name="x">The left operand.</param>
    /// <param name="y">The right operand.</param>
    public static Expr operator >(Expr x, Expr y) => new(CoreExpr.op_DotGreater(CoreOf(x), CoreOf(y)));

    /// <summary>x &gt; y elementwise as a bool expression.</summary>
    /// <param name="x">The expression.</param>
    /// <param name="y">The number.</param>
    public static Expr operator >(Expr x, double y) => new(CoreExpr.op_DotGreater(CoreOf(x), y));

    /// <summary>x &gt; y elementwise as a bool expression.</summary>
    /// <param name="x">The number.</param>
    /// <param name="y">The expression.</param>
    public static Expr operator >(double x, Expr y) => new(CoreExpr.op_DotGreater(x, CoreOf(y)));

    /// <summary>x &lt;= y elementwise as a bool expression (piecewise constant: derivative zero).</summary>
    /// <param name="x">The left operand.</param>
    /// <param name="y">The right operand.</param>
    public static Expr operator <=(Expr x, Expr y) => new(CoreExpr.op_DotLessEquals(CoreOf(x), CoreOf(y)));

    /// <summary>x &lt;= y elementwise as a bool expression.</summary>
    /// <param name="x">The expression.</param>
    /// <param name="y">The number.</param>
    public static Expr operator <=(Expr x, double y) => new(CoreExpr.op_DotLessEquals(CoreOf(x), y));

    /// <summary>x &lt;= y elementwise as a bool expression.</summary>
    /// <param name="x">The number.</param>
    /// <param name="y">The expression.</param>
    public static Expr operator <=(double x, Expr y) => new(CoreExpr.op_DotLessEquals(x, CoreOf(y)));

    /// <summary>x &gt;= y elementwise as a bool expression (piecewise constant: derivative zero).</summary>
    /// <param name="x">The left operand.</param>
    /// <param name="y">The right operand.</param>
    public static Expr operator >=(Expr x, Expr y) => new(CoreExpr.op_DotGreaterEquals(CoreOf(x), CoreOf(y)));

    /// <summary>x &gt;= y elementwise as a bool expression.</summary>
    /// <param name="x">The expression.</param>
    /// <param name="y">The number.</param>
    public static Expr operator >=(Expr x, double y) => new(CoreExpr.op_DotGreaterEquals(CoreOf(x), y));

    /// <summary>x &gt;= y elementwise as a bool expression.</summary>
    /// <param name="x">The number.</param>
    /// <param name="y">The expression.</param>
    public static Expr operator >=(double x, Expr y) => new(CoreExpr.op_DotGreaterEquals(x, CoreOf(y)));

    /// <summary>x = y elementwise as a bool expression. (<c>==</c> asks whether two expressions are the same expression.)</summary>
    /// <param name="y">The other operand; broadcasts.</param>
    public Expr Eq(Expr y) => new(CoreExpr.op_DotEquals(Core, CoreOf(y)));

    /// <summary>x = y elementwise as a bool expression, the number taking this expression's dtype.</summary>
    /// <param name="y">The number.</param>
    public Expr Eq(double y) => new(CoreExpr.op_DotEquals(Core, y));

    /// <summary>x ≠ y elementwise as a bool expression. (<c>!=</c> asks whether two expressions differ as expressions.)</summary>
    /// <param name="y">The other operand; broadcasts.</param>
    public Expr Ne(Expr y) => new(CoreExpr.op_DotLessGreater(Core, CoreOf(y)));

    /// <summary>x ≠ y elementwise as a bool expression, the number taking this expression's dtype.</summary>
    /// <param name="y">The number.</param>
    public Expr Ne(double y) => new(CoreExpr.op_DotLessGreater(Core, y));

    // ---- Logic --------------------------------------------------------------------------------------

    /// <summary>x and y elementwise, for bool expressions (the same as <see cref="LogicalAnd"/>).</summary>
    /// <param name="x">The left operand.</param>
    /// <param name="y">The right operand.</param>
    public static Expr operator &(Expr x, Expr y) => new(Functions.logicalAnd(CoreOf(x), CoreOf(y)));

    /// <summary>x or y elementwise, for bool expressions (the same as <see cref="LogicalOr"/>).</summary>
    /// <param name="x">The left operand.</param>
    /// <param name="y">The right operand.</param>
    public static Expr operator |(Expr x, Expr y) => new(Functions.logicalOr(CoreOf(x), CoreOf(y)));

    /// <summary>not x elementwise, for a bool expression (the same as <see cref="LogicalNot"/>).</summary>
    /// <param name="x">The operand.</param>
    public static Expr operator !(Expr x) => new(Functions.logicalNot(CoreOf(x)));

    /// <summary>x and y elementwise, for bool expressions.</summary>
    /// <param name="y">The other operand; broadcasts.</param>
    public Expr LogicalAnd(Expr y) => new(Functions.logicalAnd(Core, CoreOf(y)));

    /// <summary>x or y elementwise, for bool expressions.</summary>
    /// <param name="y">The other operand; broadcasts.</param>
    public Expr LogicalOr(Expr y) => new(Functions.logicalOr(Core, CoreOf(y)));

    /// <summary>not x elementwise, for a bool expression.</summary>
    public Expr LogicalNot() => new(Functions.logicalNot(Core));

    /// <summary>
    /// <paramref name="a"/> where <paramref name="condition"/> holds, else <paramref name="b"/>; all three broadcast.
    /// This is how a graph branches: only the selected side receives a cotangent, and the other side an exact
    /// zero even where its own derivative is infinite or NaN.
    /// </summary>
    /// <param name="condition">A bool expression, e.g. <c>x &gt; 0</c>.</param>
    /// <param name="a">The value where the condition holds.</param>
    /// <param name="b">The value elsewhere.</param>
    public static Expr Where(Expr condition, Expr a, Expr b) => new(Functions.where(CoreOf(condition), CoreOf(a), CoreOf(b)));

    /// <summary><paramref name="a"/> where <paramref name="condition"/> holds, else the number <paramref name="b"/> (taking a's dtype).</summary>
    /// <param name="condition">A bool expression.</param>
    /// <param name="a">The value where the condition holds.</param>
    /// <param name="b">The value elsewhere.</param>
    public static Expr Where(Expr condition, Expr a, double b) => new(Functions.where(CoreOf(condition), CoreOf(a), Lift(a, b)));

    /// <summary>The number <paramref name="a"/> (taking b's dtype) where <paramref name="condition"/> holds, else <paramref name="b"/>.</summary>
    /// <param name="condition">A bool expression.</param>
    /// <param name="a">The value where the condition holds.</param>
    /// <param name="b">The value elsewhere.</param>
    public static Expr Where(Expr condition, double a, Expr b) => new(Functions.where(CoreOf(condition), Lift(b, a), CoreOf(b)));

    // The same rule the core's operators use for a number beside an expression.
    private static CoreExpr Lift(Expr like, double value)
    {
        var dtype = CoreOf(like).DType;
        if (!dtype.IsNumeric) throw new ExprException("cannot combine a bool expression with a number; use Where, or cast it first");
        if (!dtype.IsFloat && value != Math.Round(value))
            throw new ExprException($"cannot combine an {dtype} expression with {value.ToString(CultureInfo.InvariantCulture)}; cast it to a float dtype first");
        return CoreExpr.Scalar(value, Some(dtype));
    }
}
