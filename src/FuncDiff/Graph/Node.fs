namespace FuncDiff.Core

open System
open System.Collections.Generic
open System.Threading
open FuncDiff

/// A static attribute of a primitive application: an axis, a list of axes or sizes, a flag, a dtype.
[<RequireQualifiedAccess>]
type internal Param =
    | Int of int
    | Ints of int list
    | Bool of bool
    | DType of DType

    /// The attribute as the expression language writes it: 1, [0, 2], true, float32.
    override p.ToString() =
        match p with
        | Int i -> string i
        | Ints is -> "[" + String.Join(", ", is) + "]"
        | Bool b -> if b then "true" else "false"
        | DType d -> d.Name

/// What values an attribute accepts. Axes accepts one axis or a list and is stored as a list.
[<RequireQualifiedAccess>]
type internal ParamKind =
    | Int
    | Ints
    | Axes
    | Bool
    | DType

/// How the expression language writes an application.
type internal Notation =
    /// name(inputs, attr=value, …)
    | Call
    /// a op b, binding as tightly as the precedence says (higher binds tighter).
    | Infix of symbol: string * precedence: int
    /// op a
    | Prefix of symbol: string * precedence: int

/// A node of an expression DAG: an input, a constant or a primitive applied to input nodes.
/// Immutable; shape and dtype are fixed at construction. Equality is structural (two separately built
/// `x * 2` are equal) and runs without recursion; the hash is structural and computed once.
[<Sealed; AllowNullLiteral(false)>]
type internal Node internal (op: Op, inputs: Node[], shape: Shape, dtype: DType) =
    static let mutable lastId = 0L
    // Ids grow with construction, so every input has a smaller id than its consumers:
    // sorting by id is a topological order.
    let id = Interlocked.Increment(&lastId)
    let hash =
        let mutable h = HashCode()
        match op with
        | Input name -> h.Add 1; h.Add name
        | Const t -> h.Add 2; h.Add(t.GetHashCode())
        | Apply (p, ps) -> h.Add 3; h.Add p.Name; h.Add(ps.GetHashCode())
        h.Add(shape.GetHashCode())
        h.Add(dtype.GetHashCode())
        for i in inputs do h.Add i.Hash
        h.ToHashCode()

    member _.Id = id
    member _.Op = op
    member _.Inputs = inputs
    member _.Shape = shape
    member _.DType = dtype
    member _.Hash = hash

    /// "float64[3]": the dtype and shape as messages write them.
    member _.TypeText = sprintf "%O%O" dtype shape

    /// The primitive's name, or "input"/"constant" for leaves.
    member _.Name =
        match op with
        | Input _ -> "input"
        | Const _ -> "constant"
        | Apply (p, _) -> p.Name

    /// True when both DAGs are the same expression: same ops, attributes, shapes, dtypes and inputs,
    /// compared pairwise from the roots with an explicit stack (no recursion, each pair once).
    static member StructurallyEqual(a: Node, b: Node) =
        if obj.ReferenceEquals(a, b) then true
        elif a.Hash <> b.Hash then false
        else
            let seen = HashSet<struct (int64 * int64)>()
            let pending = Stack<struct (Node * Node)>()
            pending.Push(struct (a, b))
            let mutable equal = true
            while equal && pending.Count > 0 do
                let struct (x, y) = pending.Pop()
                if not (obj.ReferenceEquals(x, y)) && seen.Add(struct (x.Id, y.Id)) then
                    if x.Hash <> y.Hash || x.DType <> y.DType || x.Inputs.Length <> y.Inputs.Length
                       || not (x.Shape.Equals y.Shape) || x.Op <> y.Op then
                        equal <- false
                    else
                        for i in 0 .. x.Inputs.Length - 1 do pending.Push(struct (x.Inputs[i], y.Inputs[i]))
            equal

    override n.Equals(other: obj) =
        match other with
        | :? Node as m -> Node.StructurallyEqual(n, m)
        | _ -> false

    override _.GetHashCode() = hash

    /// A short description for debugging; Print gives the full expression.
    override _.ToString() =
        let what =
            match op with
            | Input name -> "input " + name
            | Const _ -> "constant"
            | Apply (p, _) -> p.Name
        sprintf "%s : %O%O" what dtype shape

/// What a node is: a named input, a constant tensor, or a primitive with its attributes.
and internal Op =
    | Input of name: string
    | Const of value: Tensor
    | Apply of primitive: Primitive * attributes: Map<string, Param>

/// One catalogue entry: everything FuncDiff knows about a primitive, in one place.
and [<ReferenceEquality>] internal Primitive =
    { /// The name used by printing, parsing and error messages.
      Name: string
      Family: Family
      Differentiability: Differentiability
      /// Names of the inputs, for messages and docs; the last one repeats when Variadic.
      Inputs: string list
      Variadic: bool
      Attributes: AttributeSpec list
      Notation: Notation
      /// The formula and the edge cases (NaN, ∞, empty, subgradients).
      Doc: string
      /// Checks input shapes and dtypes, normalises attributes and gives the result's shape and dtype.
      /// Raises RuleError with a message; construction adds the op's name.
      Infer: Map<string, Param> -> Node[] -> Map<string, Param> * Shape * DType
      /// Reads a node's attributes into typed values, once, and gives its forward kernel: a function that
      /// writes every element of the result into a tensor of the inferred shape and dtype, whatever it held
      /// before (plans reuse buffers: a kernel that accumulates clears first). Plans prepare each call when
      /// they compile, so a run looks up no attribute. Write `fun a -> let axis = int "axis" a in fun xs out
      /// -> …`, not the curried `fun a xs out ->`, which reads the map on every call; Rules.withoutAttributes
      /// wraps a kernel that reads none. The kernel keeps no state between calls: a fused group runs it on
      /// several threads at once.
      Prepare: Map<string, Param> -> (Tensor[] -> Tensor -> unit)
      /// For a float elementwise primitive, its kernel on one SIMD vector of each input: a fused group whose
      /// calls all have one runs as one loop over registers (Compile/Loops.fs) instead of a kernel call per
      /// block. None unless every lane gets the bits the kernel gives its element.
      Lanes: LaneForm option
      /// The vector-Jacobian product, written as expressions: one slot per input, None where no
      /// cotangent flows (piecewise-constant, integer or boolean inputs).
      Vjp: VjpArgs -> Node option list }

/// An elementwise primitive's kernel on one SIMD vector of each input.
and internal LaneForm =
    { /// The result's vector, as an expression over the inputs' vector expressions.
      Vector: Linq.Expressions.Expression[] -> Linq.Expressions.Expression
      /// A polynomial kernel (exp, log, tanh, sin, cos): tens of instructions and registers once inlined,
      /// and a long chain of dependent steps. A loop takes only a few; over tensors too small to need
      /// fusing they stay span kernels, which keep many vectors in flight.
      Heavy: bool }

/// One attribute a primitive accepts.
and internal AttributeSpec =
    { Name: string
      Kind: ParamKind
      Default: AttributeDefault
      Doc: string }

and internal AttributeDefault =
    /// Must be given.
    | Required
    /// May be left out; the rule gives the meaning of its absence.
    | Optional
    /// This value when left out.
    | Fixed of Param
    /// Computed from the inputs when left out (e.g. "all axes"); printing omits it when it is this value.
    | Derived of (Node[] -> Param)

/// What a VJP rule receives: the cotangent of the output, the output itself (for rules that reuse
/// it, like exp or tanh), the inputs and the normalised attributes.
and internal VjpArgs =
    { Cotangent: Node
      Output: Node
      Inputs: Node[]
      Attributes: Map<string, Param> }

/// Raised by shape rules with a bare message; construction prefixes the primitive's name and
/// turns it into an ExprException.
exception internal RuleError of string
