namespace FuncDiff;

using System;
using System.Collections.Generic;
using Microsoft.FSharp.Core;
using CoreExpr = FuncDiff.Expressions.Expr;
using static FuncDiff.Interop;

// Named after the catalogue's primitives, so that a test can hold every primitive to a member here.
public sealed partial class Expr
{
    // ---- Elementwise math ---------------------------------------------------------------------------

    /// <summary>eˣ elementwise; overflows to ∞ above about 709 (float64).</summary>
    public Expr Exp() => new(CoreExpr.Exp(Core));

    /// <summary>eˣ - 1 elementwise, accurate near 0.</summary>
    public Expr Expm1() => new(Functions.expm1(Core));

    /// <summary>The natural logarithm elementwise: -∞ at 0, NaN below 0.</summary>
    public Expr Log() => new(CoreExpr.Log(Core));

    /// <summary>log(1 + x) elementwise, accurate near 0.</summary>
    public Expr Log1p() => new(Functions.log1p(Core));

    /// <summary>√x elementwise: NaN below 0; the derivative 1/(2√x) is ∞ at 0.</summary>
    public Expr Sqrt() => new(CoreExpr.Sqrt(Core));

    /// <summary>x² elementwise.</summary>
    public Expr Square() => new(Functions.square(Core));

    /// <summary>1/x elementwise: ±∞ at ±0.</summary>
    public Expr Reciprocal() => new(Functions.reciprocal(Core));

    /// <summary>|x| elementwise; at 0 the subgradient 0 is used.</summary>
    public Expr Abs() => new(CoreExpr.Abs(Core));

    /// <summary>-1, 0 or 1 by the sign of x (NaN stays NaN); piecewise constant, so its derivative is zero.</summary>
    public Expr Sign() => new(Functions.signum(Core));

    /// <summary>sin x elementwise (radians).</summary>
    public Expr Sin() => new(CoreExpr.Sin(Core));

    /// <summary>cos x elementwise (radians).</summary>
    public Expr Cos() => new(CoreExpr.Cos(Core));

    /// <summary>tan x elementwise (radians).</summary>
    public Expr Tan() => new(CoreExpr.Tan(Core));

    /// <summary>The hyperbolic tangent elementwise; saturates to ±1.</summary>
    public Expr Tanh() => new(CoreExpr.Tanh(Core));

    /// <summary>1 / (1 + e⁻ˣ) elementwise; saturates to 0 and 1 without overflow.</summary>
    public Expr Sigmoid() => new(Functions.sigmoid(Core));

    /// <summary>max(x, 0) elementwise; at 0 the subgradient 0 is used, so the cotangent passes only where x &gt; 0.</summary>
    public Expr Relu() => new(Functions.relu(Core));

    /// <summary>log(1 + eˣ) elementwise, computed so it neither overflows nor loses small values.</summary>
    public Expr Softplus() => new(Functions.softplus(Core));

    /// <summary>The largest integer ≤ x; piecewise constant, so its derivative is zero.</summary>
    public Expr Floor() => new(CoreExpr.Floor(Core));

    /// <summary>The smallest integer ≥ x; piecewise constant, so its derivative is zero.</summary>
    public Expr Ceil() => new(CoreExpr.Ceiling(Core));

    /// <summary>x rounded to the nearest integer, halves to even (as NumPy); piecewise constant.</summary>
    public Expr Round() => new(CoreExpr.Round(Core));

    /// <summary>xʸ elementwise with broadcasting (IEEE pow: NaN for negative x and non-integer y); d/dy is taken as 0 where x = 0.</summary>
    /// <param name="y">The exponent.</param>
    public Expr Pow(Expr y) => new(CoreExpr.Pow(Core, CoreOf(y)));

    /// <summary>xʸ elementwise for a number y (taking this expression's dtype).</summary>
    /// <param name="y">The exponent.</param>
    public Expr Pow(double y) => new(CoreExpr.Pow(Core, y));

    /// <summary>The elementwise maximum with broadcasting; where x = y each side receives half the cotangent.</summary>
    /// <param name="y">The other operand.</param>
    public Expr Maximum(Expr y) => new(Functions.maximum(Core, CoreOf(y)));

    /// <summary>The elementwise maximum with a number (taking this expression's dtype).</summary>
    /// <param name="y">The number.</param>
    public Expr Maximum(double y) => new(Functions.maximum(Core, Lift(this, y)));

    /// <summary>The elementwise minimum with broadcasting; where x = y each side receives half the cotangent.</summary>
    /// <param name="y">The other operand.</param>
    public Expr Minimum(Expr y) => new(Functions.minimum(Core, CoreOf(y)));

    /// <summary>The elementwise minimum with a number (taking this expression's dtype).</summary>
    /// <param name="y">The number.</param>
    public Expr Minimum(double y) => new(Functions.minimum(Core, Lift(this, y)));

    /// <summary>
    /// x · y elementwise, except that where <paramref name="y"/> is exactly zero the result is exactly zero, even
    /// where x is ±∞ or NaN (one-sided: a zero x times a non-finite y is NaN); floating point only.
    /// </summary>
    /// <param name="y">The factor whose zeros win; broadcasts.</param>
    public Expr MulNoNan(Expr y) => new(Functions.mulNoNan(Core, CoreOf(y)));

    /// <summary>
    /// The values in another dtype: floats to int32 truncate toward zero and saturate (NaN gives 0); numbers to
    /// bool test for non-zero; bool gives 1 or 0. Between float dtypes the derivative is the identity; a cast to
    /// int32 or bool is piecewise constant.
    /// </summary>
    /// <param name="dtype">The target dtype.</param>
    public Expr Cast(DType dtype) => new(Core.Cast(dtype.ToCore()));

    /// <summary>This expression's value, with a derivative of zero by request: no cotangent passes through.</summary>
    public Expr StopGradient() => new(Functions.stopGradient(Core));

    // ---- Reductions ---------------------------------------------------------------------------------

    /// <summary>Σ over one axis, or over all axes when none is given; the sum of no elements is 0.</summary>
    /// <param name="axis">The axis to reduce (negative counts from the end); all axes when null.</param>
    /// <param name="keepDims">Keep reduced axes as size 1, so the result broadcasts against the input.</param>
    public Expr Sum(int? axis = null, bool keepDims = false) => new(Core.Sum(Maybe(axis), null, Some(keepDims)));

    /// <summary>Σ over several axes; the sum of no elements is 0.</summary>
    /// <param name="axes">The axes to reduce.</param>
    /// <param name="keepDims">Keep reduced axes as size 1.</param>
    public Expr Sum(IReadOnlyList<int> axes, bool keepDims = false) => new(Core.Sum(null, Axes(axes), Some(keepDims)));

    /// <summary>Σ x / n over one axis, or all axes when none is given; the mean of no elements is NaN. Floating point only.</summary>
    /// <param name="axis">The axis to reduce; all axes when null.</param>
    /// <param name="keepDims">Keep reduced axes as size 1.</param>
    public Expr Mean(int? axis = null, bool keepDims = false) => new(Core.Mean(Maybe(axis), null, Some(keepDims)));

    /// <summary>Σ x / n over several axes. Floating point only.</summary>
    /// <param name="axes">The axes to reduce.</param>
    /// <param name="keepDims">Keep reduced axes as size 1.</param>
    public Expr Mean(IReadOnlyList<int> axes, bool keepDims = false) => new(Core.Mean(null, Axes(axes), Some(keepDims)));

    /// <summary>The maximum over one axis, or all axes when none is given; ties share the cotangent evenly. (The elementwise maximum is <see cref="Maximum(Expr)"/>.)</summary>
    /// <param name="axis">The axis to reduce; all axes when null.</param>
    /// <param name="keepDims">Keep reduced axes as size 1.</param>
    public Expr Max(int? axis = null, bool keepDims = false) => new(Core.Max(Maybe(axis), null, Some(keepDims)));

    /// <summary>The maximum over several axes; ties share the cotangent evenly.</summary>
    /// <param name="axes">The axes to reduce.</param>
    /// <param name="keepDims">Keep reduced axes as size 1.</param>
    public Expr Max(IReadOnlyList<int> axes, bool keepDims = false) => new(Core.Max(null, Axes(axes), Some(keepDims)));

    /// <summary>The minimum over one axis, or all axes when none is given; ties share the cotangent evenly. (The elementwise minimum is <see cref="Minimum(Expr)"/>.)</summary>
    /// <param name="axis">The axis to reduce; all axes when null.</param>
    /// <param name="keepDims">Keep reduced axes as size 1.</param>
    public Expr Min(int? axis = null, bool keepDims = false) => new(Core.Min(Maybe(axis), null, Some(keepDims)));

    /// <summary>The minimum over several axes; ties share the cotangent evenly.</summary>
    /// <param name="axes">The axes to reduce.</param>
    /// <param name="keepDims">Keep reduced axes as size 1.</param>
    public Expr Min(IReadOnlyList<int> axes, bool keepDims = false) => new(Core.Min(null, Axes(axes), Some(keepDims)));

    /// <summary>Π x over one axis, or all axes when none is given; the product of no elements is 1. The derivative is exact even with zeros in the group.</summary>
    /// <param name="axis">The axis to reduce; all axes when null.</param>
    /// <param name="keepDims">Keep reduced axes as size 1.</param>
    public Expr Prod(int? axis = null, bool keepDims = false) => new(Core.Prod(Maybe(axis), null, Some(keepDims)));

    /// <summary>Π x over several axes; the product of no elements is 1.</summary>
    /// <param name="axes">The axes to reduce.</param>
    /// <param name="keepDims">Keep reduced axes as size 1.</param>
    public Expr Prod(IReadOnlyList<int> axes, bool keepDims = false) => new(Core.Prod(null, Axes(axes), Some(keepDims)));

    /// <summary>log Σ eˣ over one axis, or all axes when none is given, shifted by the maximum so it neither overflows nor underflows; -∞ for no elements.</summary>
    /// <param name="axis">The axis to reduce; all axes when null.</param>
    /// <param name="keepDims">Keep reduced axes as size 1.</param>
    public Expr LogSumExp(int? axis = null, bool keepDims = false) => new(Core.LogSumExp(Maybe(axis), null, Some(keepDims)));

    /// <summary>log Σ eˣ over several axes, computed stably.</summary>
    /// <param name="axes">The axes to reduce.</param>
    /// <param name="keepDims">Keep reduced axes as size 1.</param>
    public Expr LogSumExp(IReadOnlyList<int> axes, bool keepDims = false) => new(Core.LogSumExp(null, Axes(axes), Some(keepDims)));

    /// <summary>The int32 index of the first maximum along an axis (of the flattened tensor when none is given); piecewise constant.</summary>
    /// <param name="axis">The axis to search; the flattened tensor when null.</param>
    /// <param name="keepDims">Keep the searched axis as size 1.</param>
    public Expr ArgMax(int? axis = null, bool keepDims = false) => new(Core.ArgMax(Maybe(axis), Some(keepDims)));

    /// <summary>The int32 index of the first minimum along an axis (of the flattened tensor when none is given); piecewise constant.</summary>
    /// <param name="axis">The axis to search; the flattened tensor when null.</param>
    /// <param name="keepDims">Keep the searched axis as size 1.</param>
    public Expr ArgMin(int? axis = null, bool keepDims = false) => new(Core.ArgMin(Maybe(axis), Some(keepDims)));

    // ---- Normalisation ------------------------------------------------------------------------------

    /// <summary>eˣ / Σ eˣ along an axis, computed stably.</summary>
    /// <param name="axis">The axis to normalise along (default: the last).</param>
    public Expr Softmax(int axis = -1) => new(Core.Softmax(Some(axis)));

    /// <summary>x - log Σ eˣ along an axis, computed stably.</summary>
    /// <param name="axis">The axis to normalise along (default: the last).</param>
    public Expr LogSoftmax(int axis = -1) => new(Core.LogSoftmax(Some(axis)));

    // ---- Shapes -------------------------------------------------------------------------------------

    /// <summary>The elements in row-major order with a new shape of the same size.</summary>
    /// <param name="shape">The new dimensions; one may be -1 and is inferred.</param>
    public Expr Reshape(params int[] shape) => new(Functions.reshape(ListOf(NotNull(shape)), Core));

    /// <summary>Repeated along new leading axes and along size-1 axes to the given shape (NumPy rules).</summary>
    /// <param name="shape">The target dimensions.</param>
    public Expr BroadcastTo(params int[] shape) => new(Functions.broadcastTo(ListOf(NotNull(shape)), Core));

    /// <summary>The axes permuted: axis i of the result is axis <c>perm[i]</c>; reversed when no permutation is given.</summary>
    /// <param name="perm">A permutation of 0 … rank-1; none to reverse the axes.</param>
    public Expr Transpose(params int[] perm) =>
        NotNull(perm).Length == 0 ? new(Core.Transpose(null)) : new(Core.Transpose(Some<IEnumerable<int>>(perm)));

    /// <summary>Without the given size-1 axes; without every size-1 axis when none is given.</summary>
    /// <param name="axes">The axes to remove; each must have size 1.</param>
    public Expr Squeeze(params int[] axes) =>
        NotNull(axes).Length == 0 ? new(Core.Squeeze(null, null)) : new(Core.Squeeze(null, Some<IEnumerable<int>>(axes)));

    /// <summary>With new size-1 axes at these positions of the result.</summary>
    /// <param name="axes">Positions in the result (negative counts from the end).</param>
    public Expr Unsqueeze(params int[] axes) => new(Core.Unsqueeze(NotNull(axes)));

    /// <summary><c>x[start:stop:step]</c> on the leading axes, with Python's rules for negative and out-of-range bounds.</summary>
    /// <param name="start">The first index per axis.</param>
    /// <param name="stop">The exclusive end per axis.</param>
    /// <param name="step">The step per axis (non-zero); 1 for every axis when null.</param>
    public Expr Slice(IReadOnlyList<int> start, IReadOnlyList<int> stop, IReadOnlyList<int>? step = null) =>
        new(Core.Slice(Copy(start), Copy(stop), step is null ? null : Some<IEnumerable<int>>(Copy(step))));

    /// <summary>Zero padding: <paramref name="lo"/> before and <paramref name="hi"/> after each axis, <paramref name="interior"/> between neighbours.</summary>
    /// <param name="lo">Elements before, per axis.</param>
    /// <param name="hi">Elements after, per axis.</param>
    /// <param name="interior">Elements between neighbours, per axis; none when null.</param>
    public Expr Pad(IReadOnlyList<int> lo, IReadOnlyList<int> hi, IReadOnlyList<int>? interior = null) =>
        new(Core.Pad(Copy(lo), Copy(hi), interior is null ? null : Some<IEnumerable<int>>(Copy(interior))));

    /// <summary>Joined along an existing axis; all other dimensions must agree.</summary>
    /// <param name="parts">The expressions to join, at least one.</param>
    /// <param name="axis">The axis to join along.</param>
    public static Expr Concat(IEnumerable<Expr> parts, int axis = 0) => new(Functions.concat(axis, CoresOf(parts)));

    /// <summary>Joined along a new axis; all shapes must agree.</summary>
    /// <param name="parts">The expressions to stack, at least one.</param>
    /// <param name="axis">The position of the new axis in the result.</param>
    public static Expr Stack(IEnumerable<Expr> parts, int axis = 0) => new(Functions.stack(axis, CoresOf(parts)));

    // ---- Indexing -----------------------------------------------------------------------------------

    /// <summary>
    /// This expression taken at int32 indices along an axis (NumPy <c>take</c>): the result's shape is this one's
    /// with that axis replaced by the indices' shape. Negative indices count from the end; an index out of range
    /// is an <see cref="EvaluationException"/>.
    /// </summary>
    /// <param name="indices">An int32 expression.</param>
    /// <param name="axis">The axis to index.</param>
    public Expr Gather(Expr indices, int axis = 0) => new(Core.Gather(CoreOf(indices), Some(axis)));

    /// <summary>
    /// Zeros with an axis of length <paramref name="size"/>, <paramref name="updates"/> added at int32
    /// <paramref name="indices"/> along it (repeated indices accumulate): the adjoint of <see cref="Gather"/>.
    /// </summary>
    /// <param name="indices">An int32 expression.</param>
    /// <param name="updates">The values to add; their shape holds the indices' shape at <paramref name="axis"/>.</param>
    /// <param name="size">The length of the indexed axis of the result.</param>
    /// <param name="axis">The axis of the result the indices point into.</param>
    public static Expr ScatterAdd(Expr indices, Expr updates, int size, int axis = 0) =>
        new(Functions.scatterAdd(axis, size, CoreOf(indices), CoreOf(updates)));

    /// <summary>
    /// For int32 indices (this expression), a new last axis of length <paramref name="depth"/> holding 1 at the
    /// index and 0 elsewhere; an index outside [0, depth) gives a row of zeros.
    /// </summary>
    /// <param name="depth">The length of the new axis.</param>
    /// <param name="dtype">The result's dtype.</param>
    public Expr OneHot(int depth, DType dtype = DType.Float64) => new(Functions.oneHotOf(dtype.ToCore(), depth, Core));

    // ---- Linear algebra -----------------------------------------------------------------------------

    /// <summary>
    /// The matrix product over the last two axes with NumPy broadcasting of batch axes; a 1-D operand is promoted
    /// to a row (left) or column (right) and the added axis removed from the result.
    /// </summary>
    /// <param name="y">The right factor.</param>
    public Expr MatMul(Expr y) => new(Functions.matmul(Core, CoreOf(y)));

    /// <summary>
    /// <see cref="MatMul"/>, except that a product term whose <paramref name="y"/> factor is exactly zero contributes
    /// exactly zero, even where its x factor is ±∞ or NaN: the matrix form of <see cref="MulNoNan"/>.
    /// </summary>
    /// <param name="y">The right factor, whose zeros win.</param>
    public Expr MatMulNoNan(Expr y) => new(Functions.matmulNoNan(Core, CoreOf(y)));

    /// <summary>Σ xᵢyᵢ for two 1-D vectors of one length.</summary>
    /// <param name="y">The other vector.</param>
    public Expr Dot(Expr y) => new(Functions.dot(Core, CoreOf(y)));

    /// <summary>xᵢyⱼ for two 1-D vectors: an [n, m] matrix.</summary>
    /// <param name="y">The other vector.</param>
    public Expr Outer(Expr y) => new(Functions.outer(Core, CoreOf(y)));

    private static FSharpOption<IEnumerable<int>> Axes(IReadOnlyList<int> axes) => Some<IEnumerable<int>>(Copy(axes));

    private static int[] NotNull(int[] values) => values ?? throw new ArgumentNullException(nameof(values));
}
