/// The shared machinery of catalogue entries: building a checked application, reading attributes,
/// and the shape/dtype checks most rules are made of.
module internal FuncDiff.Core.Rules

open System
open FuncDiff

/// Fails a shape rule; construction prefixes the primitive's name.
let invalid format = Printf.ksprintf (fun message -> raise (RuleError message)) format

let private kindName (k: ParamKind) =
    match k with
    | ParamKind.Int -> "an int"
    | ParamKind.Ints -> "a list of ints"
    | ParamKind.Axes -> "an axis or a list of axes"
    | ParamKind.Bool -> "true or false"
    | ParamKind.DType -> "a dtype"

/// The attribute in the form its kind stores, or None when the value does not fit the kind.
let private conform (k: ParamKind) (v: Param) =
    match k, v with
    | ParamKind.Int, Param.Int _
    | ParamKind.Ints, Param.Ints _
    | ParamKind.Axes, Param.Ints _
    | ParamKind.Bool, Param.Bool _
    | ParamKind.DType, Param.DType _ -> Some v
    | ParamKind.Axes, Param.Int i -> Some (Param.Ints [ i ])
    | ParamKind.Ints, Param.Int i -> Some (Param.Ints [ i ])
    | _ -> None

/// "x, y" for a primitive's input names.
let inputNames (p: Primitive) = String.Join(", ", p.Inputs) + (if p.Variadic then ", …" else "")

/// The message for an attribute name the primitive does not take, listing the ones it does.
let unknownAttribute (p: Primitive) (name: string) =
    let known = p.Attributes |> List.map (fun a -> a.Name)
    let takes = if known.IsEmpty then "it takes none" else "it takes: " + String.Join(", ", known)
    sprintf "unknown attribute '%s' (%s)" name takes

/// One given attribute in the form its kind stores, or why the primitive does not accept it (the
/// message without the primitive's name). The parser uses it to point at the offending attribute.
let checkAttribute (p: Primitive) (name: string) (value: Param) : Result<Param, string> =
    match p.Attributes |> List.tryFind (fun a -> a.Name = name) with
    | None -> Error (unknownAttribute p name)
    | Some spec ->
        match conform spec.Kind value with
        | Some v -> Ok v
        | None -> Error (sprintf "attribute '%s' takes %s, got %O" name (kindName spec.Kind) value)

/// The attributes after checking names and kinds and filling in defaults.
let private attributes (p: Primitive) (given: (string * Param) list) (inputs: Node[]) =
    let fail message = raise (ExprException(p.Name + ": " + message))
    given |> List.countBy fst |> List.iter (fun (name, n) -> if n > 1 then fail (sprintf "attribute '%s' is given %d times" name n))
    let mutable result = Map.empty
    for name, value in given do
        match checkAttribute p name value with
        | Ok v -> result <- result.Add(name, v)
        | Error message -> fail message
    for spec in p.Attributes do
        if not (result.ContainsKey spec.Name) then
            match spec.Default with
            | Required -> fail (sprintf "attribute '%s' is required (%s)" spec.Name spec.Doc)
            | Optional -> ()
            | Fixed v -> result <- result.Add(spec.Name, v)
            | Derived f -> result <- result.Add(spec.Name, f inputs)
    result

/// Applies a primitive: checks the number of inputs, the attributes and the shape rule, then builds the
/// node. Every failure is an ExprException whose message starts with the primitive's name.
let apply (p: Primitive) (given: (string * Param) list) (inputs: Node list) : Node =
    let inputs = Array.ofList inputs
    let expected = p.Inputs.Length
    if (p.Variadic && inputs.Length < expected) || (not p.Variadic && inputs.Length <> expected) then
        let count = if p.Variadic then sprintf "at least %d" expected else string expected
        raise (ExprException(sprintf "%s expects %s input%s (%s), got %d" p.Name count (if expected = 1 then "" else "s") (inputNames p) inputs.Length))
    let attrs = attributes p given inputs
    let attrs, shape, dtype =
        try p.Infer attrs inputs
        with
        | RuleError message -> raise (ExprException(p.Name + ": " + message))
        // A result shape too large to hold, refused by Shape.Of.
        | :? ExprException as e -> raise (ExprException(p.Name + ": " + e.Message))
    Node(Apply(p, attrs), inputs, shape, dtype)

/// A named input of the given shape and dtype.
let input (name: string) (shape: Shape) (dtype: DType) =
    if String.IsNullOrWhiteSpace name then raise (ExprException "an input needs a non-empty name")
    Node(Input name, [||], shape, dtype)

/// A constant node holding a tensor.
let constant (t: Tensor) =
    // A workspace's result changes with its next run; the graph keeps the value it has now.
    let t = if t.Lent then t.Copy() else t
    Node(Const t, [||], t.Shape, t.DType)

/// A rank-0 constant of the given dtype.
let scalarOf (dtype: DType) (value: float) =
    constant (Tensor.cast dtype (Tensor.scalar value))

/// A rank-0 constant of x's dtype, for rules like d/dx sqrt x = 0.5 / out.
let scalarLike (x: Node) (value: float) = scalarOf x.DType value

// Attribute readers, for shape rules, derivative rules and the preparation of kernels. Rules.apply checks
// every attribute against the entry's specs, so one that is missing or of another kind is a bug in FuncDiff:
// the message names the attribute and what the node holds instead.
let private read (name: string) (kind: ParamKind) (pick: Param -> 'T option) (attrs: Map<string, Param>) : 'T =
    match attrs.TryFind name with
    | Some p ->
        match pick p with
        | Some v -> v
        | None -> invalidOp (sprintf "attribute '%s' should be %s, got %O" name (kindName kind) p)
    | None ->
        let held = if attrs.IsEmpty then "none" else String.Join(", ", attrs |> Seq.map (fun (KeyValue (k, v)) -> sprintf "%s=%O" k v))
        invalidOp (sprintf "attribute '%s' is missing (the node holds: %s)" name held)

let int name attrs = read name ParamKind.Int (function Param.Int i -> Some i | _ -> None) attrs
/// The list attribute as a fresh array.
let ints name attrs = read name ParamKind.Ints (function Param.Ints is -> Some (Array.ofList is) | _ -> None) attrs
let bool name attrs = read name ParamKind.Bool (function Param.Bool b -> Some b | _ -> None) attrs
let dtype name attrs = read name ParamKind.DType (function Param.DType d -> Some d | _ -> None) attrs
let tryInt name (attrs: Map<string, Param>) = match attrs.TryFind name with | Some (Param.Int i) -> Some i | _ -> None

/// Builds an attribute map from normalised values.
let attrs (pairs: (string * Param) list) = Map.ofList pairs

/// Attribute defaults shared by several rules.
let allAxes = Derived (fun inputs -> Param.Ints [ 0 .. inputs[0].Shape.Rank - 1 ])

// Shape and dtype checks.

let requireFloat (what: string) (x: Node) =
    if not x.DType.IsFloat then invalid "%s must be floating point, got %O (cast it first)" what x.DType

let requireNumeric (what: string) (x: Node) =
    if not x.DType.IsNumeric then invalid "%s must be numeric, got bool (use where or cast)" what

let requireBool (what: string) (x: Node) =
    if x.DType <> DType.Bool then invalid "%s must be bool, got %O (compare it, e.g. x > 0, or cast it)" what x.DType

let requireInt (what: string) (x: Node) =
    if x.DType <> DType.Int32 then invalid "%s must be int32, got %O" what x.DType

/// The dtype two operands share, or a failure naming both.
let sameDType (a: Node) (b: Node) =
    if a.DType <> b.DType then invalid "dtypes differ: %O and %O (cast one of them)" a.DType b.DType
    a.DType

/// NumPy broadcast of the operands' shapes, or a failure naming both.
let broadcast (shapes: Shape list) =
    shapes |> List.reduce (fun a b ->
        match ShapeMath.tryBroadcast a b with
        | Ok s -> s
        | Error message -> invalid "%s" message)

/// One axis normalised against a rank.
let axis (rank: int) (a: int) =
    match ShapeMath.tryNormalizeAxis rank a with
    | Ok i -> i
    | Error message -> invalid "%s" message

/// Several axes normalised against a rank, sorted; a repeated axis is an error.
let axes (rank: int) (given: int[]) =
    let normalised = given |> Array.map (axis rank)
    match normalised |> Array.countBy id |> Array.tryFind (fun (_, n) -> n > 1) with
    | Some (a, _) -> invalid "axis %d appears more than once in %O" a (Param.Ints (List.ofArray given))
    | None -> Array.sort normalised

/// The shape left after reducing axes (kept as 1s when keepDims).
let reducedShape (dims: int[]) (reduced: int[]) (keepDims: bool) =
    Shape.Of(
        [| for i in 0 .. dims.Length - 1 do
               if not (Array.contains i reduced) then dims[i]
               elif keepDims then 1 |])

/// A catalogue entry with the common defaults: one input "x", no attributes, call notation, smooth.
/// A rule left out fails loudly naming the primitive.
let primitive (name: string) (family: Family) (doc: string) : Primitive =
    { Name = name
      Family = family
      Differentiability = Differentiability.Smooth
      Inputs = [ "x" ]
      Variadic = false
      Attributes = []
      Notation = Call
      Doc = doc
      Infer = fun _ _ -> invalidOp (sprintf "%s has no shape rule" name)
      Prepare = fun _ -> invalidOp (sprintf "%s has no forward kernel" name)
      Lanes = None
      Vjp = fun _ -> invalidOp (sprintf "%s has no derivative rule" name) }

/// A lane form made of one vector operator (Linq.Expressions' Add, Multiply, ...) on the inputs' vectors.
let operator (f: Linq.Expressions.Expression[] -> #Linq.Expressions.Expression) =
    Some { Vector = (fun xs -> f xs :> Linq.Expressions.Expression); Heavy = false }

/// A lane form calling the method of Kernels/OneVector.fs with this name on the inputs' vectors.
let oneVector (name: string) (heavy: bool) =
    Some { Vector = (fun xs -> Linq.Expressions.Expression.Call(typeof<Kernels.OneVector.Calls>, name, null, xs) :> Linq.Expressions.Expression); Heavy = heavy }

/// One attribute of a primitive.
let attribute (name: string) (kind: ParamKind) (byDefault: AttributeDefault) (doc: string) : AttributeSpec =
    { Name = name; Kind = kind; Default = byDefault; Doc = doc }

/// The derivative rule of a piecewise-constant or integer-valued primitive: no cotangent flows.
let noDerivative (args: VjpArgs) = args.Inputs |> Array.map (fun _ -> None) |> List.ofArray

/// The preparation of a kernel that reads no attribute: the same kernel for every node, holding nothing
/// of the node's.
let withoutAttributes (kernel: Tensor[] -> Tensor -> unit) = fun (_: Map<string, Param>) -> kernel

/// Copies the elements unchanged (reshape, squeeze, unsqueeze, stopGradient: only the shape differs).
let copyForward = withoutAttributes (fun inputs out -> Array.Copy(inputs[0].Data, out.Data, out.Size))
