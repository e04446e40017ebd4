/// Every primitive's forward values against an independent reference: plain loops over the elements
/// with NumPy's semantics and System.Math, never FuncDiff's kernels. Driven by the catalogue like the
/// gradient properties: each row of Specs.all is checked in float64, in float32 (against the float64
/// reference within float32 precision) and, where the primitive takes int32, in int32 (exactly, with
/// overflow an error); and again with ±∞, NaN, ±0 and large magnitudes mixed in where the primitive's
/// documentation defines them. Finite differences cannot see a wrong constant in a kernel whose
/// derivative rule reads the input; these properties can.
module internal FuncDiff.Tests.ReferenceValues

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open FuncDiff
open FuncDiff.Core
open FuncDiff.Core.Primitives
open FuncDiff.Tests.Generators
open FuncDiff.Tests.Specs

// ---- Reference tensors and index arithmetic -----------------------------------------------------

/// A tensor as the reference sees it: dims, dtype and the elements in row-major order as float64,
/// which holds every float32, int32 and bool value exactly.
type R = { Dims: int[]; DType: DType; Data: float[] }

/// The reference refuses the case: FuncDiff must fail with an error naming the primitive.
exception Refused of string

let private count (dims: int[]) = Array.fold (*) 1 dims

/// The row-major position of a multi-index.
let private ravel (dims: int[]) (idx: int[]) =
    let mutable flat = 0
    for a in 0 .. dims.Length - 1 do flat <- flat * dims[a] + idx[a]
    flat

let private indexText (idx: int[]) = "[" + String.Join(", ", idx) + "]"

/// A tensor whose element at each multi-index is f of it.
let private make (dtype: DType) (dims: int[]) (f: int[] -> float) =
    { Dims = dims; DType = dtype; Data = Array.init (count dims) (unravel dims >> f) }

/// NumPy broadcasting: shapes aligned on the right, each axis the one size other than 1.
let private broadcastDims (shapes: int[] list) =
    let rank = shapes |> List.map Array.length |> List.max
    Array.init rank (fun a ->
        let sizes = shapes |> List.map (fun d -> if a < rank - d.Length then 1 else d[a - rank + d.Length])
        match sizes |> List.filter (fun n -> n <> 1) |> List.distinct with
        | [] -> 1
        | [ n ] -> n
        | _ -> failwithf "the reference cannot broadcast %A" shapes)

/// The element of x at an index of a result it broadcasts to.
let private at (x: R) (idx: int[]) =
    let lead = idx.Length - x.Dims.Length
    x.Data[ravel x.Dims (Array.init x.Dims.Length (fun a -> if x.Dims[a] = 1 then 0 else idx[lead + a]))]

/// An axis counted from the end when negative.
let private axisOf (rank: int) (a: int) = if a < 0 then a + rank else a

/// For a reduction over `axes`: the result's dims and, per result element, the positions of the
/// elements it combines, in row-major order.
let private groups (dims: int[]) (axes: int[]) (keep: bool) =
    let kept = [| for a in 0 .. dims.Length - 1 do if not (Array.contains a axes) then a |]
    let outDims = [| for a in 0 .. dims.Length - 1 do if not (Array.contains a axes) then dims[a] elif keep then 1 |]
    let members = Array.init (count outDims) (fun _ -> ResizeArray<int>())
    for i in 0 .. count dims - 1 do
        let idx = unravel dims i
        members[ravel (kept |> Array.map (fun a -> dims[a])) (kept |> Array.map (fun a -> idx[a]))].Add i
    outDims, members |> Array.map List.ofSeq

// ---- Attributes, with the defaults the catalogue documents ---------------------------------------

type private Attributes = (string * Param) list

let private find (attrs: Attributes) name = attrs |> List.tryFind (fun (k, _) -> k = name) |> Option.map snd
let private ints (attrs: Attributes) name =
    match find attrs name with
    | Some (Param.Ints l) -> Some (Array.ofList l)
    | Some (Param.Int i) -> Some [| i |]
    | _ -> None
let private intAttr (attrs: Attributes) name fallback = match find attrs name with Some (Param.Int i) -> i | _ -> fallback
let private flag (attrs: Attributes) name = match find attrs name with Some (Param.Bool b) -> b | _ -> false
let private dtypeAttr (attrs: Attributes) fallback = match find attrs "dtype" with Some (Param.DType d) -> d | _ -> fallback

// ---- Scalar functions: System.Math, or the textbook formula where Math has none ------------------

/// eˣ - 1: near 0 its Taylor series, which keeps the digits exp x - 1 cancels.
let private expm1 (x: float) =
    if abs x < 0.5 then
        let mutable term, total = x, x
        for n in 2 .. 30 do
            term <- term * x / float n
            total <- total + term
        total
    else Math.Exp x - 1.0

/// log(1 + x): log u · x / (u - 1) with u = 1 + x corrects for the rounding of u (Goldberg).
let private log1p (x: float) =
    let u = 1.0 + x
    if u = 1.0 then x
    elif Double.IsInfinity u || u <= 0.0 then Math.Log u
    else Math.Log u * x / (u - 1.0)

let private sign (x: float) = if x > 0.0 then 1.0 elif x < 0.0 then -1.0 elif x = 0.0 then 0.0 else nan
let private isNan (x: float) = Double.IsNaN x

/// NumPy's maximum and minimum: NaN propagates.
let private larger a b = if isNan a || isNan b then nan elif a >= b then a else b
let private smaller a b = if isNan a || isNan b then nan elif a <= b then a else b

/// A value converted to a dtype: floats to int32 truncate toward zero and saturate, NaN gives 0;
/// numbers to bool test for non-zero; float32 rounds.
let private castTo (dtype: DType) (v: float) =
    match dtype with
    | DType.Float64 -> v
    | DType.Float32 -> float (float32 v)
    | DType.Int32 -> if isNan v then 0.0 else Math.Clamp(Math.Truncate v, -2147483648.0, 2147483647.0)
    | DType.Bool -> if v <> 0.0 then 1.0 else 0.0

// ---- References, one small function per family --------------------------------------------------

type private Reference = Attributes -> R list -> R

let private unary (f: float -> float) : Reference = fun _ xs -> { xs[0] with Data = Array.map f xs[0].Data }

/// f of the operands' elements at each index of their broadcast shape.
let private elementwise (dtypeOf: R list -> DType) (f: float list -> float) : Reference =
    fun _ xs -> make (dtypeOf xs) (broadcastDims [ for x in xs -> x.Dims ]) (fun idx -> f [ for x in xs -> at x idx ])

let private binary (f: float -> float -> float) = elementwise (fun xs -> xs[0].DType) (fun v -> f v[0] v[1])
let private comparison (test: float -> float -> bool) = elementwise (fun _ -> DType.Bool) (fun v -> if test v[0] v[1] then 1.0 else 0.0)

/// A reduction over `axis` (default: all) with `keepdims`.
let private reduction (f: float list -> float) : Reference =
    fun attrs xs ->
        let x = xs[0]
        let axes = ints attrs "axis" |> Option.defaultValue [| 0 .. x.Dims.Length - 1 |] |> Array.map (axisOf x.Dims.Length)
        let dims, members = groups x.Dims axes (flag attrs "keepdims")
        { Dims = dims; DType = x.DType; Data = members |> Array.map (fun m -> f [ for i in m -> x.Data[i] ]) }

let private total (xs: float list) = List.fold (+) 0.0 xs
let private largest (xs: float list) = List.reduce larger xs
let private smallest (xs: float list) = List.reduce smaller xs

/// log Σ eˣ: NaN propagates, +∞ wins, -∞ terms add nothing, and no finite term leaves -∞.
let private logSumExp (xs: float list) =
    let finite = xs |> List.filter Double.IsFinite
    if List.exists isNan xs then nan
    elif List.contains infinity xs then infinity
    elif finite.IsEmpty then -infinity
    else
        let m = List.max finite
        m + Math.Log(finite |> List.sumBy (fun v -> Math.Exp(v - m)))

/// The position of the first NaN, else of the first element no later one beats.
let private firstBest (beats: float -> float -> bool) (xs: float list) =
    match List.tryFindIndex isNan xs with
    | Some i -> i
    | None -> xs |> List.indexed |> List.fold (fun (bi, bv) (i, v) -> if beats v bv then i, v else bi, bv) (0, xs.Head) |> fst

/// argmax and argmin: along `axis`, or over the flattened tensor.
let private argBest (beats: float -> float -> bool) : Reference =
    fun attrs xs ->
        let x = xs[0]
        let keep = flag attrs "keepdims"
        let dims, members =
            match find attrs "axis" with
            | Some (Param.Int a) -> groups x.Dims [| axisOf x.Dims.Length a |] keep
            | _ -> (if keep then Array.create x.Dims.Length 1 else [||]), [| [ 0 .. x.Data.Length - 1 ] |]
        { Dims = dims; DType = DType.Int32; Data = members |> Array.map (fun m -> float (firstBest beats [ for i in m -> x.Data[i] ])) }

/// softmax and logSoftmax: f of each line along `axis` (default: the last).
let private alongAxis (f: float list -> float list) : Reference =
    fun attrs xs ->
        let x = xs[0]
        let _, lines = groups x.Dims [| axisOf x.Dims.Length (intAttr attrs "axis" -1) |] false
        let out = Array.zeroCreate x.Data.Length
        for line in lines do
            if not line.IsEmpty then List.iter2 (fun i v -> out[i] <- v) line (f [ for i in line -> x.Data[i] ])
        { x with Data = out }

let private softmax (xs: float list) =
    let m = largest xs
    let e = xs |> List.map (fun v -> Math.Exp(v - m))
    let s = total e
    e |> List.map (fun v -> v / s)

let private logSoftmax (xs: float list) =
    let m = largest xs
    let logTotal = Math.Log(xs |> List.sumBy (fun v -> Math.Exp(v - m)))
    xs |> List.map (fun v -> v - m - logTotal)

/// A movement: each result element is x's element at the index `source` gives, or 0 where it gives None.
let private moved (x: R) (dims: int[]) (source: int[] -> int[] option) =
    make x.DType dims (fun idx -> match source idx with Some i -> x.Data[ravel x.Dims i] | None -> 0.0)

let private reshape : Reference =
    fun attrs xs ->
        let x = xs[0]
        let wanted = (ints attrs "shape").Value
        let known = wanted |> Array.filter (fun d -> d <> -1) |> count
        { x with Dims = wanted |> Array.map (fun d -> if d = -1 then x.Data.Length / known else d) }

let private broadcastTo : Reference =
    fun attrs xs ->
        let x = xs[0]
        moved x (ints attrs "shape").Value (fun o -> Some (o[o.Length - x.Dims.Length ..] |> Array.mapi (fun a i -> if x.Dims[a] = 1 then 0 else i)))

let private transpose : Reference =
    fun attrs xs ->
        let x = xs[0]
        let r = x.Dims.Length
        let perm = ints attrs "perm" |> Option.defaultValue [| r - 1 .. -1 .. 0 |] |> Array.map (axisOf r)
        moved x (perm |> Array.map (fun p -> x.Dims[p])) (fun o ->
            let i = Array.zeroCreate r
            for a in 0 .. r - 1 do i[perm[a]] <- o[a]
            Some i)

let private squeeze : Reference =
    fun attrs xs ->
        let x = xs[0]
        let r = x.Dims.Length
        let axes = ints attrs "axis" |> Option.defaultValue [| for a in 0 .. r - 1 do if x.Dims[a] = 1 then a |] |> Array.map (axisOf r)
        { x with Dims = [| for a in 0 .. r - 1 do if not (Array.contains a axes) then x.Dims[a] |] }

let private unsqueeze : Reference =
    fun attrs xs ->
        let x = xs[0]
        let added = (ints attrs "axis").Value
        let rank = x.Dims.Length + added.Length
        let added = added |> Array.map (axisOf rank)
        let rest = Collections.Generic.Queue x.Dims
        { x with Dims = Array.init rank (fun a -> if Array.contains a added then 1 else rest.Dequeue()) }

/// Python's x[start:stop:step] per axis (a positive step); lists shorter than the rank cover the leading axes.
let private slice : Reference =
    fun attrs xs ->
        let x = xs[0]
        let pick name fallback a = match ints attrs name with Some l when a < l.Length -> l[a] | _ -> fallback
        let clip n p = if p < 0 then max 0 (p + n) else min p n
        let positions =
            x.Dims |> Array.mapi (fun a n -> [| clip n (pick "start" 0 a) .. pick "step" 1 a .. clip n (pick "stop" n a) - 1 |])
        moved x (positions |> Array.map Array.length) (fun o -> Some (Array.init o.Length (fun a -> positions[a][o[a]])))

let private pad : Reference =
    fun attrs xs ->
        let x = xs[0]
        let lo, hi = (ints attrs "lo").Value, (ints attrs "hi").Value
        let interior = ints attrs "interior" |> Option.defaultValue (Array.zeroCreate x.Dims.Length)
        let dims = x.Dims |> Array.mapi (fun a n -> lo[a] + n + hi[a] + interior[a] * max 0 (n - 1))
        moved x dims (fun o ->
            // Element i of x lands at lo + i·(interior + 1).
            let i = o |> Array.mapi (fun a p -> (p - lo[a]) / (interior[a] + 1))
            let hit = o |> Array.mapi (fun a p -> p >= lo[a] && (p - lo[a]) % (interior[a] + 1) = 0 && i[a] < x.Dims[a]) |> Array.forall id
            if hit then Some i else None)

let private concat : Reference =
    fun attrs xs ->
        let axis = axisOf xs[0].Dims.Length (intAttr attrs "axis" 0)
        let dims = Array.updateAt axis (xs |> List.sumBy (fun x -> x.Dims[axis])) xs[0].Dims
        make xs[0].DType dims (fun o ->
            let mutable p, k = o[axis], 0
            while p >= xs[k].Dims[axis] do
                p <- p - xs[k].Dims[axis]
                k <- k + 1
            xs[k].Data[ravel xs[k].Dims (Array.updateAt axis p o)])

let private stack : Reference =
    fun attrs xs ->
        let axis = axisOf (xs[0].Dims.Length + 1) (intAttr attrs "axis" 0)
        make xs[0].DType (Array.insertAt axis xs.Length xs[0].Dims) (fun o -> xs[o[axis]].Data[ravel xs[0].Dims (Array.removeAt axis o)])

/// An index into an axis of size n, counted from the end when negative; out of range is an error.
let private position (n: int) (k: float) =
    let k = int k
    if k < -n || k >= n then raise (Refused (sprintf "index %d is out of range for an axis of size %d" k n))
    if k < 0 then k + n else k

let private gather : Reference =
    fun attrs xs ->
        let x, indices = xs[0], xs[1]
        let axis = axisOf x.Dims.Length (intAttr attrs "axis" 0)
        let r = indices.Dims.Length
        let dims = Array.concat [ x.Dims[.. axis - 1]; indices.Dims; x.Dims[axis + 1 ..] ]
        moved x dims (fun o ->
            let k = position x.Dims[axis] indices.Data[ravel indices.Dims o[axis .. axis + r - 1]]
            Some (Array.concat [ o[.. axis - 1]; [| k |]; o[axis + r ..] ]))

let private scatterAdd : Reference =
    fun attrs xs ->
        let indices, updates = xs[0], xs[1]
        let r = indices.Dims.Length
        let axis = axisOf (updates.Dims.Length - r + 1) (intAttr attrs "axis" 0)
        let size = intAttr attrs "size" 0
        let dims = Array.concat [ updates.Dims[.. axis - 1]; [| size |]; updates.Dims[axis + r ..] ]
        let out = Array.zeroCreate (count dims)
        for u in 0 .. updates.Data.Length - 1 do
            let i = unravel updates.Dims u
            let k = position size indices.Data[ravel indices.Dims i[axis .. axis + r - 1]]
            let o = ravel dims (Array.concat [ i[.. axis - 1]; [| k |]; i[axis + r ..] ])
            out[o] <- out[o] + updates.Data[u]
        { Dims = dims; DType = updates.DType; Data = out }

let private oneHot : Reference =
    fun attrs xs ->
        let indices = xs[0]
        let r = indices.Dims.Length
        make (dtypeAttr attrs DType.Float64) (Array.append indices.Dims [| intAttr attrs "depth" 0 |]) (fun o ->
            if indices.Data[ravel indices.Dims o[.. r - 1]] = float o[r] then 1.0 else 0.0)

/// NumPy's matmul: a 1-D left operand is a row, a 1-D right one a column, and the added axis leaves
/// the result; leading axes broadcast. With skipZeroY a term whose y factor is 0 adds nothing. Terms
/// accumulate with fused multiply-adds in k order, as the kernel's contract says: a product that
/// overflows alone (1e300 · -1e300) does not overflow inside the fma, so ∞ + that is ∞, not NaN.
let private matmul (skipZeroY: bool) : Reference =
    fun _ xs ->
        let x, y = xs[0], xs[1]
        let x2 = if x.Dims.Length = 1 then { x with Dims = [| 1; x.Dims[0] |] } else x
        let y2 = if y.Dims.Length = 1 then { y with Dims = [| y.Dims[0]; 1 |] } else y
        let rx, ry = x2.Dims.Length, y2.Dims.Length
        let n, k, m = x2.Dims[rx - 2], x2.Dims[rx - 1], y2.Dims[ry - 1]
        let batch = broadcastDims [ x2.Dims[.. rx - 3]; y2.Dims[.. ry - 3] ]
        let product =
            make x.DType (Array.append batch [| n; m |]) (fun o ->
                let b, i, j = o[.. o.Length - 3], o[o.Length - 2], o[o.Length - 1]
                let mutable s = 0.0
                for p in 0 .. k - 1 do
                    let yv = at y2 (Array.append b [| p; j |])
                    if not (skipZeroY && yv = 0.0) then s <- Math.FusedMultiplyAdd(at x2 (Array.append b [| i; p |]), yv, s)
                s)
        { product with Dims = Array.concat [ batch; (if x.Dims.Length = 1 then [||] else [| n |]); (if y.Dims.Length = 1 then [||] else [| m |]) ] }

let private dot : Reference = fun _ xs -> { Dims = [||]; DType = xs[0].DType; Data = [| Array.fold2 (fun s a b -> s + a * b) 0.0 xs[0].Data xs[1].Data |] }
let private outer : Reference = fun _ xs -> make xs[0].DType [| xs[0].Data.Length; xs[1].Data.Length |] (fun o -> xs[0].Data[o[0]] * xs[1].Data[o[1]])

// ---- One row per primitive ----------------------------------------------------------------------

/// How close FuncDiff's value must be to the reference (ε: 2⁻⁵² in float64, 2⁻²³ in float32, 0 in int32 and bool).
type private Accuracy =
    /// Equal: no arithmetic, or one correctly rounded operation.
    | Exact
    /// Within k·ε·|reference|: library functions (exp, sin, pow) and products.
    | Ulps of int
    /// Within k·ε·(the reference applied to |inputs|): sums whose order of addition is free.
    | Summed of int
    /// Within k·ε·(1 + |reference|): results computed after a shift by the maximum.
    | Shifted of int

type private Row =
    { Name: string
      Reference: Reference
      Accuracy: Accuracy
      /// Values mixed into float inputs in the edge cases: those the primitive's documentation defines.
      Edges: float list
      /// Values mixed into int32 index inputs in the edge cases.
      IndexEdges: int list
      /// Takes int32 where the generator gives float64.
      Int32: bool }

/// IEEE's special values, which every formula and every movement defines.
let private special = [ nan; infinity; -infinity; 0.0; -0.0 ]
/// Where exp overflows and underflows, functions saturate, and float32 overflows (1e300 becomes ∞).
let private large = [ 30.0; -30.0; 1000.0; -1000.0; 1e300; -1e300 ]
let private edges = special @ large
/// Where expm1 and log1p promise accuracy that exp x - 1 and log(1 + x) lose (1e-300 becomes 0 in float32).
let private tiny = [ 1e-10; -1e-10; 1e-300; -1e-300 ]

let private row name accuracy edges int32 reference =
    { Name = name; Reference = reference; Accuracy = accuracy; Edges = edges; IndexEdges = []; Int32 = int32 }

let private rows: Row list =
    [ // Structural
      row "reshape" Exact edges true reshape
      row "broadcastTo" Exact edges true broadcastTo
      row "sum" (Summed 32) edges true (reduction total)
      row "transpose" Exact edges true transpose
      row "squeeze" Exact edges true squeeze
      row "unsqueeze" Exact edges true unsqueeze
      row "slice" Exact edges true slice
      row "pad" Exact edges true pad
      row "concat" Exact edges true concat
      row "stack" Exact edges true stack
      { row "gather" Exact edges true gather with IndexEdges = [ Int32.MinValue; -4; 3; Int32.MaxValue ] }
      row "scatterAdd" (Summed 32) edges true scatterAdd
      { row "oneHot" Exact [] false oneHot with IndexEdges = [ Int32.MinValue; -1; 4; Int32.MaxValue ] }
      // Arithmetic
      row "neg" Exact edges true (unary (fun x -> -x))
      row "add" Exact edges true (binary (+))
      row "sub" Exact edges true (binary (-))
      row "mul" Exact edges true (binary (*))
      row "div" Exact edges false (binary (/))
      row "mulNoNan" Exact edges false (binary (fun x y -> if y = 0.0 then 0.0 else x * y))
      // Logic
      row "lt" Exact edges true (comparison (<))
      row "le" Exact edges true (comparison (<=))
      row "gt" Exact edges true (comparison (>))
      row "ge" Exact edges true (comparison (>=))
      row "eq" Exact edges true (comparison (=))
      row "ne" Exact edges true (comparison (<>))
      row "logicalAnd" Exact [] false (comparison (fun a b -> a <> 0.0 && b <> 0.0))
      row "logicalOr" Exact [] false (comparison (fun a b -> a <> 0.0 || b <> 0.0))
      row "logicalNot" Exact [] false (unary (fun a -> if a = 0.0 then 1.0 else 0.0))
      row "where" Exact edges true (elementwise (fun xs -> xs[1].DType) (fun v -> if v[0] <> 0.0 then v[1] else v[2]))
      row "cast" Exact edges true (fun attrs xs -> let d = dtypeAttr attrs DType.Float64 in { xs[0] with DType = d; Data = Array.map (castTo d) xs[0].Data })
      row "stopGradient" Exact edges true (unary id)
      // Elementary functions
      row "exp" (Ulps 4) edges false (unary Math.Exp)
      row "expm1" (Ulps 4) (edges @ tiny) false (unary expm1)
      row "log" (Ulps 4) edges false (unary Math.Log)
      row "log1p" (Ulps 4) (edges @ tiny) false (unary log1p)
      row "sqrt" Exact edges false (unary Math.Sqrt)
      row "square" Exact edges true (unary (fun x -> x * x))
      row "reciprocal" Exact edges false (unary (fun x -> 1.0 / x))
      row "abs" Exact edges true (unary Math.Abs)
      row "sign" Exact edges true (unary sign)
      row "sin" (Ulps 4) edges false (unary Math.Sin)
      row "cos" (Ulps 4) edges false (unary Math.Cos)
      row "tan" (Ulps 4) edges false (unary Math.Tan)
      row "tanh" (Ulps 4) edges false (unary Math.Tanh)
      row "sigmoid" (Ulps 4) edges false (unary (fun x -> 1.0 / (1.0 + Math.Exp -x)))
      row "relu" Exact edges true (unary (fun x -> larger x 0.0))
      row "softplus" (Ulps 4) edges false (unary (fun x -> if x > 0.0 then x + log1p (Math.Exp -x) else log1p (Math.Exp x)))
      row "floor" Exact edges false (unary Math.Floor)
      row "ceil" Exact edges false (unary Math.Ceiling)
      row "round" Exact (edges @ [ 0.5; -0.5; 1.5; 2.5; -2.5 ]) false (unary (fun x -> Math.Round(x, MidpointRounding.ToEven)))
      row "pow" (Ulps 4) edges false (binary (fun x y -> Math.Pow(x, y)))
      row "maximum" Exact edges true (binary larger)
      row "minimum" Exact edges true (binary smaller)
      // Reductions
      row "mean" (Summed 32) edges false (reduction (fun xs -> total xs / float xs.Length))
      row "max" Exact edges true (reduction largest)
      row "min" Exact edges true (reduction smallest)
      // Large magnitudes would make the result depend on the order of multiplication (1e300·1e300·0).
      row "prod" (Ulps 32) special true (reduction (List.fold (*) 1.0))
      row "logsumexp" (Shifted 32) edges false (reduction logSumExp)
      row "argmax" Exact edges true (argBest (>))
      row "argmin" Exact edges true (argBest (<))
      // Linear algebra
      row "matmul" (Summed 32) edges false (matmul false)
      row "matmulNoNan" (Summed 32) edges false (matmul true)
      row "dot" (Summed 32) edges false dot
      row "outer" Exact edges false outer
      // Normalisation: the documentation promises exact results at ±1000, and says nothing of ±∞ and NaN.
      row "softmax" (Shifted 32) [ 0.0; -0.0; 30.0; -30.0; 1000.0; -1000.0 ] false (alongAxis softmax)
      row "logSoftmax" (Shifted 32) [ 0.0; -0.0; 30.0; -30.0; 1000.0; -1000.0 ] false (alongAxis logSoftmax) ]

let private rowOf = rows |> List.map (fun r -> r.Name, r) |> Map.ofList

// ---- Running a case and comparing every element -------------------------------------------------

let private valuesOf (t: Tensor) : float[] =
    match t.Data with
    | :? (float[]) as d -> Array.copy d
    | :? (float32[]) as d -> Array.map float d
    | :? (int[]) as d -> Array.map float d
    | :? (bool[]) as d -> d |> Array.map (fun b -> if b then 1.0 else 0.0)
    | _ -> failwithf "a tensor of %O" t.DType

let private inputsOf (case: Case) = case.Inputs |> List.map (fun t -> { Dims = t.Shape.Dims; DType = t.DType; Data = valuesOf t })

/// The reference's result; int32 results that do not fit are refused.
let private expected (row: Row) (attrs: Attributes) (inputs: R list) =
    let r = row.Reference attrs inputs
    if r.DType = DType.Int32 then
        match r.Data |> Array.tryFindIndex (fun v -> v < -2147483648.0 || v > 2147483647.0) with
        | Some i -> raise (Refused (sprintf "int32 overflow at %s (%.0f)" (indexText (unravel r.Dims i)) r.Data[i]))
        | None -> ()
    r

/// The bound on |FuncDiff - reference| for each element.
let private tolerances (row: Row) (case: Case) (r: R) =
    let eps = match r.DType with DType.Float64 -> Math.Pow(2.0, -52.0) | DType.Float32 -> Math.Pow(2.0, -23.0) | _ -> 0.0
    match row.Accuracy with
    | _ when eps = 0.0 -> Array.zeroCreate r.Data.Length
    | Exact -> Array.zeroCreate r.Data.Length
    | Ulps k -> r.Data |> Array.map (fun v -> float k * eps * abs v)
    | Shifted k -> r.Data |> Array.map (fun v -> float k * eps * (1.0 + abs v))
    | Summed k ->
        let magnitudes = inputsOf case |> List.map (fun x -> if x.DType.IsFloat then { x with Data = Array.map abs x.Data } else x)
        (row.Reference case.Attributes magnitudes).Data |> Array.map (fun s -> float k * eps * s)

let private evaluate (name: string) (case: Case) =
    let node = Rules.apply (Registry.tryFind name).Value case.Attributes (case.Inputs |> List.map Rules.constant)
    (Interpreter.evaluate (readOnlyDict Seq.empty<string * Tensor>) [ node ]).Head

let private agrees (want: float) (got: float) (tolerance: float) =
    if isNan want then isNan got
    elif Double.IsInfinity want then got = want
    else abs (got - want) <= tolerance

/// FuncDiff's value of one case against the reference, element by element.
let private check (row: Row) (what: string) (case: Case) =
    let fail format = Printf.ksprintf (fun message -> failwithf "%s (%s): %s\n%O" row.Name what message case) format
    let want = try Ok (expected row case.Attributes (inputsOf case)) with Refused why -> Error why
    let got = try Ok (evaluate row.Name case) with :? FuncDiffException as e -> Error e.Message
    match want, got with
    | Error _, Error message -> if not (message.StartsWith row.Name) then fail "the error does not name the primitive: %s" message
    | Error why, Ok t -> fail "the reference refuses (%s) but FuncDiff gives %O" why t
    | Ok _, Error message -> fail "FuncDiff fails: %s" message
    | Ok r, Ok t ->
        if t.DType <> r.DType || t.Shape.Dims <> r.Dims then
            fail "FuncDiff gives %O%s but the reference %O%s" t.DType (indexText t.Shape.Dims) r.DType (indexText r.Dims)
        let values = valuesOf t
        let bounds = tolerances row case r
        for i in 0 .. r.Data.Length - 1 do
            // A float32 result is the float64 reference rounded to float32 (±∞ where that overflows), within the tolerance.
            let w = if r.DType = DType.Float32 then float (float32 r.Data[i]) else r.Data[i]
            if not (agrees w values[i] bounds[i]) then
                let within = if Double.IsFinite w && bounds[i] > 0.0 then sprintf "within %.3g" bounds[i] else "exactly"
                fail "element %s is %.17g but the reference gives %.17g (%s)" (indexText (unravel r.Dims i)) values[i] w within

/// The case with its float64 inputs converted to float32 or (saturating, as cast does) to int32.
let private convert (dtype: DType) (case: Case) =
    let converted (t: Tensor) =
        match t.Data with
        | :? (float[]) as d when dtype = DType.Float32 -> Tensor.ofData t.Shape.Dims (Array.map float32 d)
        | :? (float[]) as d when dtype = DType.Int32 -> Tensor.ofData t.Shape.Dims (d |> Array.map (castTo DType.Int32 >> int))
        | _ -> t
    { case with Inputs = List.map converted case.Inputs }

/// Every dtype the row's float inputs can take.
let private checkAllDTypes (row: Row) (case: Case) =
    if case.Inputs |> List.exists (fun t -> t.DType = DType.Float64) then
        check row "float64" case
        check row "float32" (convert DType.Float32 case)
        if row.Int32 then check row "int32" (convert DType.Int32 case)
    else check row (string case.Inputs.Head.DType) case

/// The case with about a third of its float elements replaced by the row's edge values, and of its
/// int32 indices by the row's edge indices.
let private withEdges (row: Row) (case: Case) : Gen<Case> =
    let mix (values: 'T list) (data: 'T[]) =
        if values.IsEmpty then Gen.constant data
        else data |> Array.map (fun v -> Gen.frequency [ 2, Gen.constant v; 1, Gen.elements values ]) |> Gen.sequenceToArray
    case.Inputs
    |> List.map (fun t ->
        match t.Data with
        | :? (float[]) as d -> mix row.Edges d |> Gen.map (Tensor.ofData t.Shape.Dims)
        | :? (int[]) as d -> mix row.IndexEdges d |> Gen.map (Tensor.ofData t.Shape.Dims)
        | _ -> Gen.constant t)
    |> Gen.sequenceToList
    |> Gen.map (fun inputs -> { case with Inputs = inputs })

/// Where a kernel does not meet its documentation yet: the documented behaviour is a pending test that
/// names the defect, and meanwhile the row is checked as the kernel is, so that any other error still
/// fails. When a kernel is fixed, delete its entry.
let private config = { FsCheckConfig.defaultConfig with maxTest = 100 }

let private property (row: Row) (label: string) (cases: Gen<Case>) =
    testPropertyWithConfig config label (Prop.forAll (Arb.fromGen cases) (checkAllDTypes row))

let private hasEdges (row: Row) = not (row.Edges.IsEmpty && row.IndexEdges.IsEmpty)

let tests =
    testList "Reference values" [
        test "every catalogue primitive has a reference" {
            let covered = rows |> List.map (fun r -> r.Name) |> Set.ofList
            let missing = Registry.all |> List.map (fun p -> p.Name) |> List.filter (fun n -> not (covered.Contains n))
            Expect.isEmpty missing "primitives without a reference row"
            let unknown = covered |> Set.filter (fun n -> (Registry.tryFind n).IsNone)
            Expect.isEmpty unknown "reference rows for names that are not primitives"
        }
        testList "generated values" [ for spec in Specs.all -> property (rowOf[spec.Name]) spec.Label spec.Case ]
        testList "values at the edges" [
            for spec in Specs.all do
                let row = rowOf[spec.Name]
                if hasEdges row then property row spec.Label (spec.Case |> Gen.bind (withEdges row)) ]
    ]
