/// A fused group as one loop over SIMD registers. Each turn computes every call's lane form (the
/// catalogue's `Lanes`) on vectors that stay in registers, loading an import's vector where it is first
/// needed and storing only what leaves the group, as soon as it is computed: exported members, and the
/// blocks of summed members. A group of kernel calls instead writes every member to a block buffer and
/// reads it back, one call per member and block.
///
/// The loop is an expression tree, compiled once for all groups of its shape (below); the JIT compiles it
/// fully optimised and inlines the lane kernels (Kernels/OneVector.fs). Every lane form gives each lane
/// the bits the primitive's kernel gives that element, and a call's lanes are independent of each other,
/// so the values are the kernel calls' bit for bit, but for the sign and payload of a NaN where two NaNs
/// meet (the processor passes on one of them, and the JIT orders a commutative operation's operands as it
/// likes, in the kernels too). A length that is not a whole number of vectors ends with one vector that
/// overlaps the one before: its elements are computed again from the same inputs, to the same bits
/// (a step's outputs never share storage with its inputs).
module internal FuncDiff.Core.Loops

open System
open System.Linq.Expressions
open System.Runtime.Intrinsics
open FuncDiff
open FuncDiff.Core.Steps

module V = FuncDiff.Core.Kernels.Vectors

/// Computes elements offset .. offset + length - 1 of a group, length at least two vectors: reads[j] is the
/// whole array of import j and writes[e] that of export e; pieces[s] receives the elements of the member
/// that sum s takes from index 0; scalars[k] is scalar value k. It accesses the arrays without bounds
/// checks: the caller checks once that they hold those elements.
type Loop<'T> = delegate of reads: 'T[][] * writes: 'T[][] * pieces: 'T[][] * scalars: 'T[] * offset: int * length: int -> unit

/// Groups with more calls run as kernel calls on blocks (and small runs are cut here): a method with
/// thousands of locals is one the JIT no longer optimises.
let maximumCalls = 64

/// Groups with more heavy calls run as kernel calls on blocks: 200,000 float64 elements through a group of
/// k tanh calls (each with a product and a sum) took 0.60 / 0.65 ms as a loop / on blocks for k = 4, but
/// 1.64 / 1.46 ms for k = 8, as the inlined polynomials run out of registers.
let maximumHeavy = 4

/// Where a call's argument comes from in a group: a member, an import or a scalar, by index.
[<Struct>]
type private Source =
    | Member of m: int
    | Import of j: int
    | Scalar of k: int

/// The source of each argument value of the group's calls (a view of a member reads the member).
let private sources (owner: int[]) (g: Group) =
    let memberOf = dict (g.Calls |> Array.mapi (fun m c -> c.Output, m))
    let importOf = dict (g.Imports |> Array.mapi (fun j v -> v, j))
    let scalarOf = dict (g.Scalars |> Array.mapi (fun k v -> v, k))
    fun (a: int) ->
        match memberOf.TryGetValue owner[a] with
        | true, m -> Member m
        | _ -> match importOf.TryGetValue a with
               | true, j -> Import j
               | _ -> Scalar scalarOf[a]

/// A turn computes this many vectors, call by call. Two give a chain of dependent calls independent work
/// to overlap (chain1000's backward pass; a lone exp over 2^20 float64 elements, on two threads, went from
/// 0.84 to 0.69 of the span kernel's time on one; hvp10k, one tanh among cheap calls, measured the same),
/// but cost a loop with several heavy calls its registers (ew1m float64: 2.5 ms with one, 2.75 with two).
let private unrollOf (g: Group) = if (g.Calls |> Array.filter (fun c -> c.Primitive.Lanes.Value.Heavy)).Length > 1 then 1 else 2

let private build<'T> (owner: int[]) (g: Group) : Delegate =
    let statics, vector, width, bits =
        if V.Width.Wide then typeof<Vector512>, typeof<Vector512<'T>>, Vector512<'T>.Count, 512
        elif V.Width.Narrow then typeof<Vector256>, typeof<Vector256<'T>>, Vector256<'T>.Count, 256
        else typeof<Vector128>, typeof<Vector128<'T>>, Vector128<'T>.Count, 128
    let splat =
        statics.GetMethods()
        |> Array.find (fun m -> m.Name = "Create" && m.IsGenericMethodDefinition && (let ps = m.GetParameters() in ps.Length = 1 && ps[0].ParameterType.IsGenericParameter))
        |> fun m -> m.MakeGenericMethod typeof<'T>
    let calls (name: string) =
        typeof<Kernels.OneVector.Calls>.GetMethod(name, Reflection.BindingFlags.Static ||| Reflection.BindingFlags.Public ||| Reflection.BindingFlags.NonPublic).MakeGenericMethod typeof<'T>
    let load, store = calls (sprintf "Load%d" bits), calls (sprintf "Store%d" bits)
    let parameter (t: Type) (name: string) = Expression.Parameter(t, name)
    let reads, writes, pieces = parameter typeof<'T[][]> "reads", parameter typeof<'T[][]> "writes", parameter typeof<'T[][]> "pieces"
    let scalars, offset, length = parameter typeof<'T[]> "scalars", parameter typeof<int> "offset", parameter typeof<int> "length"
    let locals (t: Type) (name: string) (n: int) = Array.init n (fun k -> Expression.Variable(t, sprintf "%s%d" name k))
    let readArrays, writeArrays = locals typeof<'T[]> "read" g.Imports.Length, locals typeof<'T[]> "write" g.Exports.Length
    let pieceArrays, scalarVectors = locals typeof<'T[]> "piece" g.Sums.Length, locals vector "scalar" g.Scalars.Length
    // u: a vector's place in the turn.
    let unroll = unrollOf g
    let importVectors = Array.init unroll (fun u -> locals vector (sprintf "import%d_" u) g.Imports.Length)
    let memberVectors = Array.init unroll (fun u -> locals vector (sprintf "member%d_" u) g.Calls.Length)
    let both = Array.init unroll (fun u -> Expression.Variable(typedefof<struct (int * int)>.MakeGenericType(vector, vector), sprintf "both%d" u))
    let at = Array.init unroll (fun u -> Expression.Variable(typeof<int>, sprintf "at%d" u))
    let i, last = Expression.Variable(typeof<int>, "i"), Expression.Variable(typeof<int>, "last")
    let memberOf = dict (g.Calls |> Array.mapi (fun m c -> c.Output, m))
    let source = sources owner g
    let arg (u: int) (a: int) : Expression =
        match source a with
        | Member m -> memberVectors[u][m]
        | Import j -> importVectors[u][j]
        | Scalar k -> scalarVectors[k]
    let item (arrays: ParameterExpression) (k: int) = Expression.ArrayIndex(arrays, Expression.Constant k)
    // Each vector is loaded just before its first use and stored right after it is computed, so that few
    // are live at once: a loop holding every import and member to the end of its turn spills registers.
    let exported = g.Exports |> Array.mapi (fun e v -> memberOf[v], e) |> Array.groupBy fst |> dict
    let summed = g.Sums |> Array.mapi (fun s c -> memberOf[owner[c.Args[0]]], s) |> Array.groupBy fst |> dict
    // A sin and a cos of one argument: both come from one reduction where the first stands.
    let partner = Steps.trigPartners g.Calls
    let loaded = Collections.Generic.HashSet<int>()
    let turn: Expression list =
        [ for u in 0 .. unroll - 1 do Expression.Assign(at[u], Expression.Add(offset, Expression.Add(i, Expression.Constant(u * width))))
          for m in 0 .. g.Calls.Length - 1 do
              let c = g.Calls[m]
              let fresh = c.Args |> Array.choose (fun a -> match source a with Import j when loaded.Add j -> Some j | _ -> None)
              for u in 0 .. unroll - 1 do
                  for j in fresh do Expression.Assign(importVectors[u][j], Expression.Call(load, readArrays[j], at[u]))
                  let vectors = memberVectors[u]
                  if partner[m] < 0 then Expression.Assign(vectors[m], c.Primitive.Lanes.Value.Vector (c.Args |> Array.map (arg u)))
                  elif partner[m] > m then
                      let sine, cosine = if Steps.trigOf c.Primitive = ValueSome false then m, partner[m] else partner[m], m
                      Expression.Assign(both[u], Expression.Call(typeof<Kernels.OneVector.Calls>, "SinCos", null, arg u c.Args[0]))
                      Expression.Assign(vectors[sine], Expression.Field(both[u], "Item1"))
                      Expression.Assign(vectors[cosine], Expression.Field(both[u], "Item2"))
                  match exported.TryGetValue m with
                  | true, es -> for _, e in es do Expression.Call(store, vectors[m], writeArrays[e], at[u])
                  | _ -> ()
                  match summed.TryGetValue m with
                  | true, ss -> for _, s in ss do Expression.Call(store, vectors[m], pieceArrays[s], Expression.Subtract(at[u], offset))
                  | _ -> () ]
    let finished = Expression.Label "finished"
    let next = Expression.Call(typeof<Math>.GetMethod("Min", [| typeof<int>; typeof<int> |]), Expression.Add(i, Expression.Constant(unroll * width)), last)
    let body: Expression list =
        [ for j in 0 .. g.Imports.Length - 1 do Expression.Assign(readArrays[j], item reads j)
          for e in 0 .. g.Exports.Length - 1 do Expression.Assign(writeArrays[e], item writes e)
          for s in 0 .. g.Sums.Length - 1 do Expression.Assign(pieceArrays[s], item pieces s)
          for k in 0 .. g.Scalars.Length - 1 do Expression.Assign(scalarVectors[k], Expression.Call(splat, item scalars k))
          Expression.Assign(last, Expression.Subtract(length, Expression.Constant(unroll * width)))
          Expression.Assign(i, Expression.Constant 0)
          Expression.Loop(
              Expression.Block(turn @ [ Expression.IfThen(Expression.Equal(i, last), Expression.Break finished); Expression.Assign(i, next) ]),
              finished) ]
    let variables = Array.concat [ readArrays; writeArrays; pieceArrays; scalarVectors; Array.concat importVectors; Array.concat memberVectors; both; at; [| i; last |] ]
    Expression.Lambda<Loop<'T>>(Expression.Block(variables, body), [| reads; writes; pieces; scalars; offset; length |]).Compile()

/// What a loop is built from: the float type, the width, each call's primitive and where its arguments
/// come from (a member, an import, a scalar, by index), the exported and summed members and the sin and
/// cos pairs. Groups alike in these get the same loop, whatever values they read.
let private shape (owner: int[]) (g: Group) (dtype: DType) =
    let memberOf = dict (g.Calls |> Array.mapi (fun m c -> c.Output, m))
    let source = sources owner g
    let text = Text.StringBuilder()
    let add (x: obj) = text.Append(x).Append(' ') |> ignore
    add dtype
    add (if V.Width.Wide then 512 elif V.Width.Narrow then 256 else 128)
    for c in g.Calls do
        add c.Primitive.Name
        for a in c.Args do
            add (match source a with Member m -> "m" + string m | Import j -> "i" + string j | Scalar k -> "s" + string k)
    add "exports"
    for v in g.Exports do add memberOf[v]
    add "sums"
    for c in g.Sums do add memberOf[owner[c.Args[0]]]
    add "pairs"
    for p in Steps.trigPartners g.Calls do add p
    text.ToString()

/// Loops compiled so far, by shape: the groups of a long chain (one per layer, alike but for the values
/// they read) share one instead of each compiling its own (chain1000's first compile: 2.7 s with a loop
/// per group, 0.2 s shared). Cleared when it holds loopCacheLimit.
let private compiled = Collections.Concurrent.ConcurrentDictionary<string, Delegate>()
let private loopCacheLimit = 1024

/// Whether loops can be made here: a machine with SIMD (at the widths the compiling thread allows, Kernels/
/// Vectors.fs's Width) and a runtime that compiles the code it makes (otherwise expression trees are
/// interpreted).
let available () = V.Width.Least && Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeCompiled

/// The group's loop, if it can have one: float32 or float64 throughout, every call with a lane form and no
/// attributes (a shape names primitives, not attributes), at most maximumCalls calls of which at most
/// maximumHeavy heavy, at least two vectors of elements, and loops available. It runs at the widest width
/// the kernels take on the compiling thread. A loop that cannot be built (which the tests would show)
/// leaves the group on blocks, which compute the same values.
let compile (values: Node[]) (owner: int[]) (g: Group) : Delegate option =
    let dtype = values[g.Calls[0].Output].DType
    let ofDType (v: int) = values[v].DType = dtype
    let widest = if dtype = DType.Float64 then Vector512<float>.Count else Vector512<float32>.Count
    if (dtype = DType.Float64 || dtype = DType.Float32) && g.Calls.Length <= maximumCalls && available ()
       && g.Size >= 2 * widest
       && g.Calls |> Array.forall (fun c -> c.Primitive.Lanes.IsSome && c.Primitive.Attributes.IsEmpty && ofDType c.Output && Array.forall ofDType c.Args)
       && (g.Calls |> Array.filter (fun c -> c.Primitive.Lanes.Value.Heavy) |> Array.length) <= maximumHeavy
       && g.Sums |> Array.forall (fun c -> ofDType c.Output) then
        let key = shape owner g dtype
        match compiled.TryGetValue key with
        | true, loop -> Some loop
        | _ ->
            try
                let loop = if dtype = DType.Float64 then build<float> owner g else build<float32> owner g
                if compiled.Count >= loopCacheLimit then compiled.Clear()
                compiled[key] <- loop
                Some loop
            with _ -> None
    else None
