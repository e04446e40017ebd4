namespace FuncDiff;

/// <summary>
/// The element type of a tensor or an expression. <see cref="Float64"/> is the default wherever no
/// dtype is given; derivatives exist only with respect to <see cref="Float64"/> and <see cref="Float32"/> nodes.
/// </summary>
public enum DType
{
    /// <summary>64-bit IEEE floating point, stored as <see cref="double"/>.</summary>
    Float64,

    /// <summary>32-bit IEEE floating point, stored as <see cref="float"/>.</summary>
    Float32,

    /// <summary>Booleans, stored as <see cref="bool"/>: what comparisons produce and <see cref="Expr.Where(Expr, Expr, Expr)"/> takes.</summary>
    Bool,

    /// <summary>32-bit signed integers, stored as <see cref="int"/>: indices for gather, one-hot and argmax.</summary>
    Int32,
}
