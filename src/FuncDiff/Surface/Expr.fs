/// The expression type with its operators: what F# code (and the C# facade) builds graphs with.
[<AutoOpen>]
module FuncDiff.Expressions

open System
open FuncDiff.Core
open FuncDiff.Core.Primitives

/// An immutable expression over tensors: an input, a constant, or a primitive applied to expressions.
/// Shape and dtype are known and checked when it is built; a mismatch throws ExprException naming the
/// operation and both shapes. Two expressions are equal when they are the same expression (structurally),
/// and equality, hashing and printing work on graphs of any depth.
///
/// Operators: + - * / with expressions or floats on either side (a float takes the other operand's dtype),
/// unary -, ** (pow), and the comparisons .&lt; .&lt;= .&gt; .&gt;= .= .&lt;&gt; which give bool expressions.
/// exp, log, sqrt, sin, cos, tan, tanh, abs, floor, ceil and round from FSharp.Core work on expressions.
[<Sealed; AllowNullLiteral(false)>]
type Expr internal (node: Node) =
    // Every node a user operation builds passes here: where creation-site capture is on, it is recorded.
    do Sites.capture node

    /// The graph node this expression stands for.
    member internal _.Node = node

    /// The shape, known at construction.
    member _.Shape: Shape = node.Shape

    /// The element type, known at construction.
    member _.DType: DType = node.DType

    /// Number of dimensions.
    member _.Rank = node.Shape.Rank

    /// The expression as infix text that Expr.Parse reads back to an equal expression; shared
    /// subexpressions are written once with `let name = … in`.
    override _.ToString() = Print.print node

    override _.Equals(other: obj) =
        match other with
        | :? Expr as e -> node.Equals e.Node
        | _ -> false

    override _.GetHashCode() = node.Hash

    interface IEquatable<Expr> with
        member e.Equals(other: Expr) = e.Equals(box other)

    /// A named input. Names are identifiers that are neither function names nor reserved words
    /// (let, in, true, false, nan, inf).
    static member Input(name: string, shape: seq<int>, ?dtype: DType) =
        if not (Syntax.isIdentifier name) then
            raise (ExprException(sprintf "input name %A is not an identifier (letters, digits and _, not starting with a digit)" name))
        if Syntax.reserved.Contains name then raise (ExprException(sprintf "input name '%s' is a reserved word" name))
        if (Registry.tryFind name).IsSome then raise (ExprException(sprintf "input name '%s' is the name of a function; choose another" name))
        Expr(Rules.input name (Shape.Of shape) (defaultArg dtype DType.Float64))

    /// Reads an expression from text in the language ToString writes, over the declared inputs
    /// (made with Expr.Input; they give the names, shapes and dtypes of the identifiers).
    ///
    /// Infix + - * / ^ (right-associative) and @ (matmul), unary -, comparisons &lt; &lt;= &gt; &gt;= == !=
    /// (they do not chain), parentheses; numbers (2, 0.5, 1e-3, nan, inf) are float64 and true/false bool;
    /// tensor literals [[1, 2], [3, 4]] must be rectangular; `let name = … in …` names a subexpression;
    /// every primitive of the catalogue is a function by its name, with keyword attributes:
    /// sum(x, axis=0, keepdims=true), cast(x, dtype=float32), where(x &gt; 0, x, 0).
    /// -2 is the constant -2 and -(2) is neg(2); cast and reshape of a literal written directly are folded
    /// into one constant. A number beside an operand of another numeric dtype takes that dtype, so x + 2
    /// works for a float32 x.
    ///
    /// Errors are ParseException with the line and column of the offending token (shape and dtype
    /// errors are the catalogue's messages, placed at the operator or call, with the ExprException as
    /// InnerException; an undeclared input has an InputException naming it as InnerException); nesting deeper than
    /// 1000 levels is an error, not a stack overflow. ArgumentException when an element of inputs is
    /// not an input, or one name is declared with two shapes or dtypes.
    static member Parse(text: string, inputs: seq<Expr>) : Expr =
        if isNull text then nullArg "text"
        if isNull (box inputs) then nullArg "inputs"
        let nodes =
            [ for i in inputs do
                  if isNull (box i) then raise (ArgumentException("the declared inputs contain null", "inputs"))
                  i.Node ]
        Expr(Parse.parse nodes text)

    /// A constant tensor.
    static member Constant(value: Tensor) = Expr(Rules.constant value)

    /// A rank-0 constant (float64 unless a dtype is given).
    static member Scalar(value: float, ?dtype: DType) = Expr(Rules.scalarOf (defaultArg dtype DType.Float64) value)

    /// A float operand beside an expression: a rank-0 constant of that expression's dtype.
    static member internal Lift(like: Expr, value: float) =
        match like.DType with
        | DType.Bool -> raise (ExprException "cannot combine a bool expression with a number; use where, or cast it first")
        | DType.Int32 when value <> Math.Round value -> raise (ExprException(sprintf "cannot combine an int32 expression with %g; cast it to a float dtype first" value))
        | _ -> Expr(Rules.scalarLike like.Node value)

    static member internal Binary(f: Node -> Node -> Node, a: Expr, b: Expr) = Expr(f a.Node b.Node)

    static member (+)(a: Expr, b: Expr) = Expr.Binary(Arithmetic.add, a, b)
    static member (+)(a: Expr, b: float) = Expr.Binary(Arithmetic.add, a, Expr.Lift(a, b))
    static member (+)(a: float, b: Expr) = Expr.Binary(Arithmetic.add, Expr.Lift(b, a), b)
    static member (-)(a: Expr, b: Expr) = Expr.Binary(Arithmetic.sub, a, b)
    static member (-)(a: Expr, b: float) = Expr.Binary(Arithmetic.sub, a, Expr.Lift(a, b))
    static member (-)(a: float, b: Expr) = Expr.Binary(Arithmetic.sub, Expr.Lift(b, a), b)
    static member (*)(a: Expr, b: Expr) = Expr.Binary(Arithmetic.mul, a, b)
    static member (*)(a: Expr, b: float) = Expr.Binary(Arithmetic.mul, a, Expr.Lift(a, b))
    static member (*)(a: float, b: Expr) = Expr.Binary(Arithmetic.mul, Expr.Lift(b, a), b)
    static member (/)(a: Expr, b: Expr) = Expr.Binary(Arithmetic.div, a, b)
    static member (/)(a: Expr, b: float) = Expr.Binary(Arithmetic.div, a, Expr.Lift(a, b))
    static member (/)(a: float, b: Expr) = Expr.Binary(Arithmetic.div, Expr.Lift(b, a), b)
    static member (~-)(a: Expr) = Expr(Arithmetic.neg a.Node)

    /// x ** y: elementwise power (used by the ** operator).
    static member Pow(a: Expr, b: Expr) = Expr.Binary(Elementary.pow, a, b)
    /// x ** y with a float exponent.
    static member Pow(a: Expr, b: float) = Expr.Binary(Elementary.pow, a, Expr.Lift(a, b))

    /// a &lt; b as a bool expression.
    static member (.<)(a: Expr, b: Expr) = Expr.Binary(Logic.lt, a, b)
    static member (.<)(a: Expr, b: float) = Expr.Binary(Logic.lt, a, Expr.Lift(a, b))
    static member (.<)(a: float, b: Expr) = Expr.Binary(Logic.lt, Expr.Lift(b, a), b)
    /// a &lt;= b as a bool expression.
    static member (.<=)(a: Expr, b: Expr) = Expr.Binary(Logic.le, a, b)
    static member (.<=)(a: Expr, b: float) = Expr.Binary(Logic.le, a, Expr.Lift(a, b))
    static member (.<=)(a: float, b: Expr) = Expr.Binary(Logic.le, Expr.Lift(b, a), b)
    /// a &gt; b as a bool expression.
    static member (.>)(a: Expr, b: Expr) = Expr.Binary(Logic.gt, a, b)
    static member (.>)(a: Expr, b: float) = Expr.Binary(Logic.gt, a, Expr.Lift(a, b))
    static member (.>)(a: float, b: Expr) = Expr.Binary(Logic.gt, Expr.Lift(b, a), b)
    /// a &gt;= b as a bool expression.
    static member (.>=)(a: Expr, b: Expr) = Expr.Binary(Logic.ge, a, b)
    static member (.>=)(a: Expr, b: float) = Expr.Binary(Logic.ge, a, Expr.Lift(a, b))
    static member (.>=)(a: float, b: Expr) = Expr.Binary(Logic.ge, Expr.Lift(b, a), b)
    /// a = b elementwise as a bool expression.
    static member (.=)(a: Expr, b: Expr) = Expr.Binary(Logic.eq, a, b)
    static member (.=)(a: Expr, b: float) = Expr.Binary(Logic.eq, a, Expr.Lift(a, b))
    static member (.=)(a: float, b: Expr) = Expr.Binary(Logic.eq, Expr.Lift(b, a), b)
    /// a ≠ b elementwise as a bool expression.
    static member (.<>)(a: Expr, b: Expr) = Expr.Binary(Logic.ne, a, b)
    static member (.<>)(a: Expr, b: float) = Expr.Binary(Logic.ne, a, Expr.Lift(a, b))
    static member (.<>)(a: float, b: Expr) = Expr.Binary(Logic.ne, Expr.Lift(b, a), b)

    // FSharp.Core's exp, log, … call these.
    static member Exp(x: Expr) = Expr(Elementary.exp x.Node)
    static member Log(x: Expr) = Expr(Elementary.log x.Node)
    static member Sqrt(x: Expr) = Expr(Elementary.sqrt x.Node)
    static member Sin(x: Expr) = Expr(Elementary.sin x.Node)
    static member Cos(x: Expr) = Expr(Elementary.cos x.Node)
    static member Tan(x: Expr) = Expr(Elementary.tan x.Node)
    static member Tanh(x: Expr) = Expr(Elementary.tanh x.Node)
    static member Abs(x: Expr) = Expr(Elementary.abs x.Node)
    static member Floor(x: Expr) = Expr(Elementary.floor x.Node)
    static member Ceiling(x: Expr) = Expr(Elementary.ceil x.Node)
    static member Round(x: Expr) = Expr(Elementary.round x.Node)

    static member internal Axes(axis: int option, axes: seq<int> option) =
        match axis, axes with
        | Some a, None -> Some [| a |]
        | None, Some a -> Some (Array.ofSeq a)
        | None, None -> None
        | Some _, Some _ -> raise (ExprException "give axis or axes, not both")

    /// Σ over axis (or axes; all by default), keeping reduced axes as size 1 when keepDims.
    member x.Sum(?axis: int, ?axes: seq<int>, ?keepDims: bool) = Expr(Structural.sum (Expr.Axes(axis, axes)) (defaultArg keepDims false) x.Node)
    /// The mean over axis (or axes; all by default).
    member x.Mean(?axis: int, ?axes: seq<int>, ?keepDims: bool) = Expr(Reductions.mean (Expr.Axes(axis, axes)) (defaultArg keepDims false) x.Node)
    /// The maximum over axis (or axes; all by default).
    member x.Max(?axis: int, ?axes: seq<int>, ?keepDims: bool) = Expr(Reductions.max (Expr.Axes(axis, axes)) (defaultArg keepDims false) x.Node)
    /// The minimum over axis (or axes; all by default).
    member x.Min(?axis: int, ?axes: seq<int>, ?keepDims: bool) = Expr(Reductions.min (Expr.Axes(axis, axes)) (defaultArg keepDims false) x.Node)
    /// The product over axis (or axes; all by default).
    member x.Prod(?axis: int, ?axes: seq<int>, ?keepDims: bool) = Expr(Reductions.prod (Expr.Axes(axis, axes)) (defaultArg keepDims false) x.Node)
    /// log Σ exp over axis (or axes; all by default), computed stably.
    member x.LogSumExp(?axis: int, ?axes: seq<int>, ?keepDims: bool) = Expr(Normalization.logsumexp (Expr.Axes(axis, axes)) (defaultArg keepDims false) x.Node)
    /// The int32 index of the first maximum along axis (of the flattened tensor by default).
    member x.ArgMax(?axis: int, ?keepDims: bool) = Expr(Reductions.argmax axis (defaultArg keepDims false) x.Node)
    /// The int32 index of the first minimum along axis (of the flattened tensor by default).
    member x.ArgMin(?axis: int, ?keepDims: bool) = Expr(Reductions.argmin axis (defaultArg keepDims false) x.Node)
    /// softmax along axis (default: the last).
    member x.Softmax(?axis: int) = Expr(Normalization.softmax (defaultArg axis -1) x.Node)
    /// log-softmax along axis (default: the last).
    member x.LogSoftmax(?axis: int) = Expr(Normalization.logSoftmax (defaultArg axis -1) x.Node)
    /// The axes permuted (reversed by default).
    member x.Transpose(?perm: seq<int>) =
        match perm with
        | Some p -> Expr(Structural.transpose (Array.ofSeq p) x.Node)
        | None -> Expr(Rules.apply Structural.transposeP [] [ x.Node ])
    /// Without the size-1 axis (or axes; all size-1 axes by default).
    member x.Squeeze(?axis: int, ?axes: seq<int>) =
        match Expr.Axes(axis, axes) with
        | Some a -> Expr(Rules.apply Structural.squeezeP [ "axis", Param.Ints (List.ofArray a) ] [ x.Node ])
        | None -> Expr(Rules.apply Structural.squeezeP [] [ x.Node ])
    /// With new size-1 axes at these positions of the result.
    member x.Unsqueeze([<ParamArray>] axes: int[]) = Expr(Rules.apply Structural.unsqueezeP [ "axis", Param.Ints (List.ofArray axes) ] [ x.Node ])
    /// x[start:stop:step] per leading axis (Python rules; steps default to 1).
    member x.Slice(start: seq<int>, stop: seq<int>, ?step: seq<int>) =
        let step = match step with Some s -> Array.ofSeq s | None -> Array.create (Seq.length start) 1
        Expr(Structural.slice (Array.ofSeq start) (Array.ofSeq stop) step x.Node)
    /// Zero padding: lo before and hi after each axis, interior between neighbours.
    member x.Pad(lo: seq<int>, hi: seq<int>, ?interior: seq<int>) =
        let interior = match interior with Some i -> Array.ofSeq i | None -> Array.zeroCreate x.Rank
        Expr(Structural.pad (Array.ofSeq lo) (Array.ofSeq hi) interior x.Node)
    /// x taken at int32 indices along axis (default 0).
    member x.Gather(indices: Expr, ?axis: int) = Expr(Structural.gather (defaultArg axis 0) x.Node indices.Node)
    /// The same values in another dtype.
    member x.Cast(dtype: DType) = Expr(Logic.cast dtype x.Node)
