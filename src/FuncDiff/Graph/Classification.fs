/// How primitives are classified: by family and by how they behave under differentiation.
[<AutoOpen>]
module FuncDiff.Classification

/// The broad kind of a primitive, named once on its catalogue entry.
[<RequireQualifiedAccess>]
type Family =
    /// Same-shape (broadcast) maps: arithmetic, math functions, comparisons, logic, where, cast.
    | Elementwise
    /// Summaries over axes: sum, mean, max, argmax, logsumexp…
    | Reduction
    /// Rearranging elements without arithmetic: reshape, transpose, broadcast, slice, concat…
    | Movement
    /// Index-driven selection and placement: gather, scatterAdd, oneHot.
    | Indexing
    /// Products of vectors and matrices: matmul, dot, outer.
    | LinearAlgebra
    /// Normalised exponentials along an axis: softmax, logSoftmax.
    | Normalization
    /// Defined at run time by the program using FuncDiff (Primitive.define).
    | UserDefined

/// How a primitive behaves under differentiation.
[<RequireQualifiedAccess>]
type Differentiability =
    /// Differentiable everywhere on its domain; second derivatives exist too.
    | Smooth
    /// Constant between jumps (floor, round, sign, argmax, comparisons, casts to int or bool):
    /// the derivative is exactly zero by definition, never "missing".
    | PiecewiseConstant
    /// Differentiable except at isolated points, where the stated subgradient is used.
    | NonSmooth of subgradient: string
    /// stopGradient: the identity whose derivative is zero by request.
    | StopsGradient
    /// A user-defined primitive declared without a derivative: its gradient is an explicit zero, for
    /// the stated reason, never a missing one.
    | NonDifferentiable of reason: string
