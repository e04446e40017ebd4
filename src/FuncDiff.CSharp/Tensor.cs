namespace FuncDiff;

using System;
using System.Collections.Generic;
using CoreTensor = FuncDiff.Tensors.Tensor;
using TensorModule = FuncDiff.TensorFunctions.TensorModule;

/// <summary>
/// A dense, row-major, immutable tensor of <see cref="double"/>, <see cref="float"/>, <see cref="bool"/> or
/// <see cref="int"/> elements: what inputs are bound to and what evaluation returns.
/// </summary>
/// <remarks>
/// Every factory copies its data, so a tensor never shares storage with an array the caller can still change,
/// and every reader returns a copy. The one tensor that changes is a result <see cref="Plan.Run(Workspace)"/>
/// lends (<see cref="IsLent"/>): the workspace's next run overwrites it, and with it its value equality and hash;
/// <see cref="Copy"/> keeps its values. Two tensors are equal (<see cref="Equals(Tensor?)"/>, <c>==</c>) when
/// shape, dtype and every element agree bit for bit, so NaN equals NaN; this is value equality, not an
/// elementwise comparison (compare elementwise with expressions: <see cref="Expr.Eq(Expr)"/>).
/// Errors raise <see cref="FuncDiffException"/> with the shapes involved.
/// </remarks>
public sealed class Tensor : IEquatable<Tensor>
{
    internal Tensor(CoreTensor core) => Core = core;

    internal CoreTensor Core { get; }

    /// <summary>The dimensions, outermost first; empty for a scalar. Prints as <c>[2, 3]</c> and compares by value.</summary>
    public IReadOnlyList<int> Shape => Core.Shape;

    /// <summary>The element type.</summary>
    public DType DType => Interop.FromCore(Core.DType);

    /// <summary>
    /// True for a result of <see cref="Plan.Run(Workspace)"/>: the workspace's own tensor, overwritten by its next run.
    /// Keep one with <see cref="Copy"/>; do not use one as a dictionary key.
    /// </summary>
    public bool IsLent => Core.IsLent;

    /// <summary>A tensor of its own with the same shape, dtype and elements (what keeps a lent result's values).</summary>
    public Tensor Copy() => new(Core.Copy());

    /// <summary>The number of dimensions (0 for a scalar).</summary>
    public int Rank => Core.Rank;

    /// <summary>The number of elements: the product of the dimensions (1 for a scalar).</summary>
    public int Size => Core.Size;

    /// <summary>The element at a multi-index (one index per axis), converted to <see cref="double"/> (true is 1).</summary>
    /// <param name="indices">One non-negative index per axis; none for a scalar.</param>
    /// <exception cref="FuncDiffException">The index has the wrong length or is out of range; the message names the shape.</exception>
    public double this[params int[] indices] => Core[indices ?? throw new ArgumentNullException(nameof(indices))];

    // ---- Creating -----------------------------------------------------------------------------------

    /// <summary>A 1-D float64 tensor holding a copy of <paramref name="data"/>.</summary>
    /// <param name="data">The elements.</param>
    public static Tensor FromArray(double[] data) => Vector(data);

    /// <summary>A 1-D float32 tensor holding a copy of <paramref name="data"/>.</summary>
    /// <param name="data">The elements.</param>
    public static Tensor FromArray(float[] data) => Vector(data);

    /// <summary>A 1-D int32 tensor holding a copy of <paramref name="data"/>.</summary>
    /// <param name="data">The elements.</param>
    public static Tensor FromArray(int[] data) => Vector(data);

    /// <summary>A 1-D bool tensor holding a copy of <paramref name="data"/>.</summary>
    /// <param name="data">The elements.</param>
    public static Tensor FromArray(bool[] data) => Vector(data);

    /// <summary>A float64 tensor of the given shape from row-major data (copied).</summary>
    /// <param name="data">The elements in row-major order; exactly as many as the shape holds.</param>
    /// <param name="shape">The dimensions; empty for a scalar.</param>
    /// <exception cref="FuncDiffException">The data does not fill the shape, or a dimension is negative.</exception>
    public static Tensor FromArray(double[] data, IReadOnlyList<int> shape) => Shaped(data, shape);

    /// <summary>A float32 tensor of the given shape from row-major data (copied).</summary>
    /// <param name="data">The elements in row-major order; exactly as many as the shape holds.</param>
    /// <param name="shape">The dimensions; empty for a scalar.</param>
    /// <exception cref="FuncDiffException">The data does not fill the shape, or a dimension is negative.</exception>
    public static Tensor FromArray(float[] data, IReadOnlyList<int> shape) => Shaped(data, shape);

    /// <summary>An int32 tensor of the given shape from row-major data (copied).</summary>
    /// <param name="data">The elements in row-major order; exactly as many as the shape holds.</param>
    /// <param name="shape">The dimensions; empty for a scalar.</param>
    /// <exception cref="FuncDiffException">The data does not fill the shape, or a dimension is negative.</exception>
    public static Tensor FromArray(int[] data, IReadOnlyList<int> shape) => Shaped(data, shape);

    /// <summary>A bool tensor of the given shape from row-major data (copied).</summary>
    /// <param name="data">The elements in row-major order; exactly as many as the shape holds.</param>
    /// <param name="shape">The dimensions; empty for a scalar.</param>
    /// <exception cref="FuncDiffException">The data does not fill the shape, or a dimension is negative.</exception>
    public static Tensor FromArray(bool[] data, IReadOnlyList<int> shape) => Shaped(data, shape);

    /// <summary>A 2-D float64 tensor with the rows and columns of <paramref name="data"/> (copied).</summary>
    /// <param name="data">A rectangular array: <c>data[i, j]</c> becomes element <c>[i, j]</c>.</param>
    public static Tensor FromArray(double[,] data) => Matrix(data);

    /// <summary>A 2-D float32 tensor with the rows and columns of <paramref name="data"/> (copied).</summary>
    /// <param name="data">A rectangular array: <c>data[i, j]</c> becomes element <c>[i, j]</c>.</param>
    public static Tensor FromArray(float[,] data) => Matrix(data);

    /// <summary>A 2-D int32 tensor with the rows and columns of <paramref name="data"/> (copied).</summary>
    /// <param name="data">A rectangular array: <c>data[i, j]</c> becomes element <c>[i, j]</c>.</param>
    public static Tensor FromArray(int[,] data) => Matrix(data);

    /// <summary>A 2-D bool tensor with the rows and columns of <paramref name="data"/> (copied).</summary>
    /// <param name="data">A rectangular array: <c>data[i, j]</c> becomes element <c>[i, j]</c>.</param>
    public static Tensor FromArray(bool[,] data) => Matrix(data);

    /// <summary>A float64 tensor of the given shape from row-major data in a span (copied).</summary>
    /// <param name="data">The elements in row-major order; exactly as many as the shape holds.</param>
    /// <param name="shape">The dimensions; empty for a scalar.</param>
    /// <exception cref="FuncDiffException">The data does not fill the shape, or a dimension is negative.</exception>
    public static Tensor FromSpan(ReadOnlySpan<double> data, ReadOnlySpan<int> shape) => Shaped(data.ToArray(), shape.ToArray());

    /// <summary>A float32 tensor of the given shape from row-major data in a span (copied).</summary>
    /// <param name="data">The elements in row-major order; exactly as many as the shape holds.</param>
    /// <param name="shape">The dimensions; empty for a scalar.</param>
    /// <exception cref="FuncDiffException">The data does not fill the shape, or a dimension is negative.</exception>
    public static Tensor FromSpan(ReadOnlySpan<float> data, ReadOnlySpan<int> shape) => Shaped(data.ToArray(), shape.ToArray());

    /// <summary>An int32 tensor of the given shape from row-major data in a span (copied).</summary>
    /// <param name="data">The elements in row-major order; exactly as many as the shape holds.</param>
    /// <param name="shape">The dimensions; empty for a scalar.</param>
    /// <exception cref="FuncDiffException">The data does not fill the shape, or a dimension is negative.</exception>
    public static Tensor FromSpan(ReadOnlySpan<int> data, ReadOnlySpan<int> shape) => Shaped(data.ToArray(), shape.ToArray());

    /// <summary>A bool tensor of the given shape from row-major data in a span (copied).</summary>
    /// <param name="data">The elements in row-major order; exactly as many as the shape holds.</param>
    /// <param name="shape">The dimensions; empty for a scalar.</param>
    /// <exception cref="FuncDiffException">The data does not fill the shape, or a dimension is negative.</exception>
    public static Tensor FromSpan(ReadOnlySpan<bool> data, ReadOnlySpan<int> shape) => Shaped(data.ToArray(), shape.ToArray());

    /// <summary>A rank-0 float64 tensor.</summary>
    /// <param name="value">The single element.</param>
    public static Tensor Scalar(double value) => new(TensorModule.scalar(value));

    /// <summary>A float64 tensor of zeros.</summary>
    /// <param name="shape">The dimensions; none for a scalar.</param>
    public static Tensor Zeros(params int[] shape) => new(TensorModule.zeros(Checked(shape)));

    /// <summary>A float64 tensor of ones.</summary>
    /// <param name="shape">The dimensions; none for a scalar.</param>
    public static Tensor Ones(params int[] shape) => new(TensorModule.ones(Checked(shape)));

    /// <summary>A float64 tensor with every element equal to <paramref name="value"/> (NumPy <c>full</c>).</summary>
    /// <param name="shape">The dimensions; empty for a scalar.</param>
    /// <param name="value">The fill value.</param>
    public static Tensor Full(IReadOnlyList<int> shape, double value) => new(TensorModule.full(Interop.Copy(shape), value));

    /// <summary>The float64 values 0, 1, 2, … below <paramref name="stop"/> (NumPy <c>arange(stop)</c>).</summary>
    /// <param name="stop">The exclusive upper end.</param>
    /// <exception cref="FuncDiffException">The stop is not finite, or more values than a tensor can hold.</exception>
    public static Tensor Arange(double stop) => new(TensorModule.arange(0.0, stop, 1.0));

    /// <summary>The float64 values start, start + step, … short of <paramref name="stop"/> (NumPy <c>arange</c>).</summary>
    /// <param name="start">The first value.</param>
    /// <param name="stop">The exclusive end.</param>
    /// <param name="step">The spacing; finite and non-zero, negative to count down.</param>
    /// <exception cref="FuncDiffException">The step is zero, infinite or NaN; start or stop is not finite; or the
    /// range holds more values than a tensor can.</exception>
    public static Tensor Arange(double start, double stop, double step = 1.0) => new(TensorModule.arange(start, stop, step));

    /// <summary>
    /// <paramref name="count"/> evenly spaced float64 values from start to stop inclusive, as libtorch computes them: the
    /// first half counted from start, the second from stop, so both ends are exact and a range symmetric about 0 gives
    /// values symmetric to the bit but for the middle point of an odd count.
    /// </summary>
    /// <param name="start">The first value.</param>
    /// <param name="stop">The last value (exactly, when count &gt; 1).</param>
    /// <param name="count">How many values; non-negative.</param>
    /// <exception cref="FuncDiffException">The count is negative or more than a tensor can hold.</exception>
    public static Tensor Linspace(double start, double stop, int count) => new(TensorModule.linspace(start, stop, count));

    /// <summary>Float64 samples of the standard normal distribution; the same seed gives the same tensor on every machine.</summary>
    /// <param name="seed">The seed.</param>
    /// <param name="shape">The dimensions.</param>
    public static Tensor RandomNormal(int seed, params int[] shape) => new(TensorModule.randn(seed, Checked(shape)));

    /// <summary>Float64 samples uniform on [0, 1); the same seed gives the same tensor on every machine.</summary>
    /// <param name="seed">The seed.</param>
    /// <param name="shape">The dimensions.</param>
    public static Tensor RandomUniform(int seed, params int[] shape) => new(TensorModule.rand(seed, Checked(shape)));

    /// <summary>
    /// The tensor a tensor literal describes, in the syntax the expression language writes constants in:
    /// <c>Tensor.Parse("[[1, 2], [3, 4]]")</c>. Numbers (<c>2</c>, <c>-0.5</c>, <c>1e-3</c>, <c>nan</c>, <c>-nan</c>,
    /// <c>inf</c>, <c>-inf</c>, a <c>-</c> written directly before the number) give <see cref="DType.Float64"/>;
    /// <c>true</c>/<c>false</c> give <see cref="DType.Bool"/>; nested brackets must be rectangular, and <c>[]</c> has shape [0].
    /// </summary>
    /// <remarks>
    /// The one reader of the language's literals, so a text means the same tensor here, in <see cref="Expr.Parse"/> and
    /// in the <c>funcdiff</c> command. A number float64 would read as ±∞ (<c>1e400</c>) or as 0 (<c>1e-400</c>) is an
    /// error, not a silent infinity or zero. Nesting deeper than 1000 levels is an error, not a stack overflow.
    /// </remarks>
    /// <param name="text">One literal, with any white space around it.</param>
    /// <exception cref="ParseException">
    /// The text is not one literal; <see cref="ParseException.Line"/> and <see cref="ParseException.Column"/> (1-based)
    /// point at the offending element or bracket.
    /// </exception>
    public static Tensor Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new(Functions.parseTensor(text));
    }

    /// <summary>
    /// The tensor a tensor literal describes, of exactly <paramref name="dtype"/>: <c>Tensor.Parse("[0.1, 2]", DType.Float32)</c>.
    /// </summary>
    /// <remarks>
    /// Float32 numbers are read directly from their text at float32's width (not rounded through float64), and a
    /// number the dtype would read as ±∞ or 0 is an error (<c>1e39</c> for float32). Int32 takes only whole numbers in
    /// its range; bool only <c>true</c> and <c>false</c>.
    /// </remarks>
    /// <param name="text">One literal, with any white space around it.</param>
    /// <param name="dtype">The dtype of the tensor.</param>
    /// <exception cref="ParseException">The text is not one literal of that dtype; the position points at the offending element.</exception>
    public static Tensor Parse(string text, DType dtype)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new(Functions.parseTensorOf(dtype.ToCore(), text));
    }

    // ---- Reading ------------------------------------------------------------------------------------

    /// <summary>
    /// A copy of the elements in row-major order. <typeparamref name="T"/> must be the storage type of the dtype:
    /// <see cref="double"/> for Float64, <see cref="float"/> for Float32, <see cref="bool"/> for Bool, <see cref="int"/> for Int32.
    /// </summary>
    /// <typeparam name="T">The element type to read as.</typeparam>
    /// <exception cref="FuncDiffException"><typeparamref name="T"/> is not the storage type of this tensor's dtype.</exception>
    public T[] ToArray<T>() where T : unmanaged => Core.ToArray<T>();

    /// <summary>A copy of the elements in row-major order converted to <see cref="double"/> (true is 1, false is 0).</summary>
    public double[] ToDoubleArray() => Core.ToFloat64Array();

    /// <summary>A copy of a 2-D tensor as a rectangular array; <typeparamref name="T"/> as for <see cref="ToArray{T}"/>.</summary>
    /// <typeparam name="T">The element type to read as.</typeparam>
    /// <exception cref="FuncDiffException">The tensor is not 2-D, or <typeparamref name="T"/> does not match the dtype.</exception>
    public T[,] ToArray2D<T>() where T : unmanaged
    {
        if (Rank != 2) throw new FuncDiffException($"ToArray2D needs a tensor of rank 2, this one has shape {Shape}");
        var flat = Core.ToArray<T>();
        int rows = Shape[0], cols = Shape[1];
        var result = new T[rows, cols];
        for (var i = 0; i < rows; i++)
            for (var j = 0; j < cols; j++)
                result[i, j] = flat[i * cols + j];
        return result;
    }

    /// <summary>Copies the elements in row-major order into <paramref name="destination"/>; <typeparamref name="T"/> as for <see cref="ToArray{T}"/>.</summary>
    /// <typeparam name="T">The element type to read as.</typeparam>
    /// <param name="destination">At least <see cref="Size"/> elements; the rest is left as it was.</param>
    /// <exception cref="FuncDiffException">The destination is too short, or <typeparamref name="T"/> does not match the dtype.</exception>
    public void CopyTo<T>(Span<T> destination) where T : unmanaged
    {
        if (destination.Length < Size)
            throw new FuncDiffException($"a span of {destination.Length} elements cannot hold a tensor of shape {Shape} ({Size} elements)");
        Core.ToArray<T>().AsSpan().CopyTo(destination);
    }

    /// <summary>The single element of a tensor with one element (any shape), as <see cref="double"/>.</summary>
    /// <exception cref="FuncDiffException">The tensor has more or fewer than one element; the message names its shape.</exception>
    public double ToScalar() => Core.ToScalar();

    /// <summary>
    /// The elements converted to another dtype: float to int32 truncates toward zero and saturates (NaN gives 0);
    /// numbers to bool test for non-zero (NaN gives true); bool to numbers gives 1 or 0.
    /// </summary>
    /// <param name="dtype">The target dtype.</param>
    public Tensor Cast(DType dtype) => new(TensorModule.cast(dtype.ToCore(), Core));

    // ---- Equality and text --------------------------------------------------------------------------

    /// <summary>
    /// True when <paramref name="other"/> has this shape and every pair of elements is close, as NumPy's allclose:
    /// |this − other| ≤ <paramref name="atol"/> + <paramref name="rtol"/>·|other|, in float64 whatever the dtypes.
    /// Equal infinities are close; NaN is close to nothing.
    /// </summary>
    /// <param name="other">The tensor to compare with (the reference: the relative tolerance scales with it).</param>
    /// <param name="rtol">Relative tolerance; NumPy's default 1e-5.</param>
    /// <param name="atol">Absolute tolerance; NumPy's default 1e-8.</param>
    /// <exception cref="FuncDiffException">The shapes differ (a shape mistake is not reported as a numerical one), or a tolerance is negative.</exception>
    public bool AllClose(Tensor other, double rtol = 1e-5, double atol = 1e-8) =>
        TensorModule.allClose(rtol, atol, Core, (other ?? throw new ArgumentNullException(nameof(other))).Core);

    /// <summary>NumPy-like text, e.g. <c>tensor([[1., 2.], [3., 4.]])</c>; a dtype note follows unless float64.</summary>
    public override string ToString() => Core.ToString();

    /// <summary>True when shape, dtype and every element agree bit for bit (NaN equals NaN; 0.0 and -0.0 differ).</summary>
    /// <param name="other">The tensor to compare with.</param>
    public bool Equals(Tensor? other) => other is not null && Core.Equals(other.Core);

    /// <summary>True when <paramref name="obj"/> is a <see cref="Tensor"/> equal to this one.</summary>
    /// <param name="obj">The object to compare with.</param>
    public override bool Equals(object? obj) => Equals(obj as Tensor);

    /// <summary>A hash of shape, dtype and elements, consistent with <see cref="Equals(Tensor?)"/>.</summary>
    public override int GetHashCode() => Core.GetHashCode();

    /// <summary>Value equality, the same as <see cref="Equals(Tensor?)"/>: a <see cref="bool"/>, not an elementwise comparison.</summary>
    /// <param name="a">The first tensor.</param>
    /// <param name="b">The second tensor.</param>
    public static bool operator ==(Tensor? a, Tensor? b) => a is null ? b is null : a.Equals(b);

    /// <summary>The negation of <c>==</c>.</summary>
    /// <param name="a">The first tensor.</param>
    /// <param name="b">The second tensor.</param>
    public static bool operator !=(Tensor? a, Tensor? b) => !(a == b);

    // ---- Helpers ------------------------------------------------------------------------------------

    private static Tensor Vector<T>(T[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return new(TensorModule.ofArray(data));
    }

    private static Tensor Shaped<T>(T[] data, IReadOnlyList<int> shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        return new(TensorModule.ofData(Interop.Copy(shape), data));
    }

    private static Tensor Matrix<T>(T[,] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return new(TensorModule.ofArray2D(data));
    }

    private static int[] Checked(int[] shape) => shape ?? throw new ArgumentNullException(nameof(shape));
}
