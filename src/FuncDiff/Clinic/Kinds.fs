/// The statuses and cause kinds of explain. (A module, so the C# facade's own enums do not clash with them.)
[<AutoOpen>]
module FuncDiff.ClinicKinds

/// What a gradient looks like, as explain reports it for each input.
[<RequireQualifiedAccess>]
type GradientStatus =
    /// Finite, no element exactly zero, not tiny.
    | Ok
    /// Every element is exactly 0 (an empty gradient is Ok: there is nothing to say about it).
    | Zero
    /// Some elements are exactly 0, the others are not tiny.
    | PartlyZero
    /// Every |gᵢ|·max|xⱼ| ≤ ε·|f|, ε the machine epsilon of the gradient's dtype, f the value, x the
    /// input (max|xⱼ| taken as 1 when x is all zero): a step as large as the input itself changes the
    /// value by less than its rounding error. Scale-free: multiplying f or x by a constant changes nothing,
    /// and a value of 0 makes nothing tiny. Some elements may be exactly zero, not all.
    | Tiny
    /// Some element is NaN.
    | NaN
    /// Some element is ±∞ (and none is NaN).
    | Inf

    /// "ok", "zero", "partly-zero", "tiny", "nan", "inf": the names the JSON uses.
    member s.Name =
        match s with
        | Ok -> "ok"
        | Zero -> "zero"
        | PartlyZero -> "partly-zero"
        | Tiny -> "tiny"
        | NaN -> "nan"
        | Inf -> "inf"

    override s.ToString() = s.Name

/// Why a gradient is zero, tiny, NaN or infinite: one rule each (see docs/gradient-clinic.md).
[<RequireQualifiedAccess>]
type CauseKind =
    /// The output does not depend on the input: no path of the graph leads from it to the output.
    | Disconnected
    /// A path passes through stopGradient.
    | StopGradient
    /// A path passes through an operation the catalogue classifies as piecewise constant (round, floor,
    /// ceil, sign, argmax, comparisons, …) or a cast to int32 or bool.
    | PiecewiseConstant
    /// An operation that routes its cotangent (relu, where, max, min, maximum, minimum, abs, gather, slice)
    /// passes none to some elements of its input on the path; or a product (mul, matmul, dot, outer) on the
    /// path whose other factor is exactly zero where the input's cotangent is zero.
    | Masked
    /// A node on the path reaches the output by several paths whose contributions cancel.
    | Cancellation
    /// exp, expm1 or pow on the path has a local derivative at most ε (machine epsilon): it underflowed.
    | Underflow
    /// tanh, sigmoid or softplus on the path has a local derivative at most ε: the activation is saturated;
    /// or softmax / logSoftmax is one-hot within ε and passes back at most ε times its cotangent.
    | Saturation
    /// The first node where a NaN appears from NaN-free inputs, forward or backward.
    | NanOrigin
    /// The first node where ±∞ appears from finite inputs, forward or backward.
    | InfOrigin

    /// "disconnected", "stop-gradient", "piecewise-constant", "masked", "cancellation", "underflow",
    /// "saturation", "nan-origin", "inf-origin": the names the JSON uses.
    member k.Name =
        match k with
        | Disconnected -> "disconnected"
        | StopGradient -> "stop-gradient"
        | PiecewiseConstant -> "piecewise-constant"
        | Masked -> "masked"
        | Cancellation -> "cancellation"
        | Underflow -> "underflow"
        | Saturation -> "saturation"
        | NanOrigin -> "nan-origin"
        | InfOrigin -> "inf-origin"

    override k.ToString() = k.Name
