/// A fused group as one loop over SIMD registers. Each turn loads a vector of every import, computes every
/// call's lane form (the catalogue's `Lanes`) on vectors that stay in registers, and stores only what
/// leaves the group: exported members, and the blocks of summed members. A group of kernel calls instead
/// writes every member to a block buffer and reads it back, one call per member and block.
///
/// The loop is an expression tree compiled once per plan; the JIT compiles it fully optimised and inlines
/// the lane kernels (Kernels/OneVector.fs). Every lane form gives each lane the bits the primitive's kernel
/// gives that element, and a call's lanes are independent of each other, so the values are the kernel
/// calls' bit for bit. A length that is not a whole number of vectors ends with one vector that overlaps
/// the one before: its elements are computed again from the same inputs, to the same bits.
module internal FuncDiff.Core.Loops

open System
open System.Linq.Expressions
open System.Runtime.Intrinsics
open FuncDiff
open FuncDiff.Core.Steps

module V = FuncDiff.Core.Kernels.Vectors

/// Computes elements offset .. offset + length - 1 of a group, length at least one vector: reads[j] is the
/// whole array of import j and writes[e] that of export e; pieces[s] receives the elements of the member
/// that sum s takes from index 0; scalars[k] is scalar value k.
type Loop<'T> = delegate of reads: 'T[][] * writes: 'T[][] * pieces: 'T[][] * scalars: 'T[] * offset: int * length: int -> unit

/// Groups with more calls run as kernel calls on blocks: a method with thousands of locals is one the JIT
/// no longer optimises.
let maximumCalls = 64

let private build<'T> (owner: int[]) (g: Group) : Delegate =
    let statics, vector, width =
        if V.Width.Wide then typeof<Vector512>, typeof<Vector512<'T>>, Vector512<'T>.Count
        elif V.Width.Narrow then typeof<Vector256>, typeof<Vector256<'T>>, Vector256<'T>.Count
        else typeof<Vector128>, typeof<Vector128<'T>>, Vector128<'T>.Count
    let generic (name: string) (fits: Type[] -> bool) =
        let m = statics.GetMethods() |> Array.find (fun m -> m.Name = name && m.IsGenericMethodDefinition && fits (m.GetParameters() |> Array.map (fun p -> p.ParameterType)))
        m.MakeGenericMethod typeof<'T>
    let load = generic "Create" (fun ps -> ps.Length = 2 && ps[0].IsArray && ps[1] = typeof<int>)
    let store = generic "CopyTo" (fun ps -> ps.Length = 3 && ps[1].IsArray && ps[2] = typeof<int>)
    let splat = generic "Create" (fun ps -> ps.Length = 1 && ps[0].IsGenericParameter)
    let parameter (t: Type) (name: string) = Expression.Parameter(t, name)
    let reads, writes, pieces = parameter typeof<'T[][]> "reads", parameter typeof<'T[][]> "writes", parameter typeof<'T[][]> "pieces"
    let scalars, offset, length = parameter typeof<'T[]> "scalars", parameter typeof<int> "offset", parameter typeof<int> "length"
    let locals (t: Type) (name: string) (n: int) = Array.init n (fun k -> Expression.Variable(t, sprintf "%s%d" name k))
    let readArrays, writeArrays = locals typeof<'T[]> "read" g.Imports.Length, locals typeof<'T[]> "write" g.Exports.Length
    let pieceArrays, scalarVectors = locals typeof<'T[]> "piece" g.Sums.Length, locals vector "scalar" g.Scalars.Length
    let importVectors, memberVectors = locals vector "import" g.Imports.Length, locals vector "member" g.Calls.Length
    let i, last, at = Expression.Variable(typeof<int>, "i"), Expression.Variable(typeof<int>, "last"), Expression.Variable(typeof<int>, "at")
    let memberOf = dict (g.Calls |> Array.mapi (fun m c -> c.Output, m))
    let importOf = dict (g.Imports |> Array.mapi (fun j v -> v, j))
    let scalarOf = dict (g.Scalars |> Array.mapi (fun k v -> v, k))
    let arg (a: int) : Expression =
        match memberOf.TryGetValue owner[a] with
        | true, m -> memberVectors[m]
        | _ -> match importOf.TryGetValue a with
               | true, j -> importVectors[j]
               | _ -> scalarVectors[scalarOf[a]]
    let item (arrays: ParameterExpression) (k: int) = Expression.ArrayIndex(arrays, Expression.Constant k)
    let turn: Expression list =
        [ Expression.Assign(at, Expression.Add(offset, i))
          for j in 0 .. g.Imports.Length - 1 do Expression.Assign(importVectors[j], Expression.Call(load, readArrays[j], at))
          for m in 0 .. g.Calls.Length - 1 do
              let c = g.Calls[m]
              Expression.Assign(memberVectors[m], c.Primitive.Lanes.Value (c.Args |> Array.map arg))
          for e in 0 .. g.Exports.Length - 1 do Expression.Call(store, memberVectors[memberOf[g.Exports[e]]], writeArrays[e], at)
          for s in 0 .. g.Sums.Length - 1 do Expression.Call(store, memberVectors[memberOf[owner[g.Sums[s].Args[0]]]], pieceArrays[s], i) ]
    let finished = Expression.Label "finished"
    let next = Expression.Call(typeof<Math>.GetMethod("Min", [| typeof<int>; typeof<int> |]), Expression.Add(i, Expression.Constant width), last)
    let body: Expression list =
        [ for j in 0 .. g.Imports.Length - 1 do Expression.Assign(readArrays[j], item reads j)
          for e in 0 .. g.Exports.Length - 1 do Expression.Assign(writeArrays[e], item writes e)
          for s in 0 .. g.Sums.Length - 1 do Expression.Assign(pieceArrays[s], item pieces s)
          for k in 0 .. g.Scalars.Length - 1 do Expression.Assign(scalarVectors[k], Expression.Call(splat, item scalars k))
          Expression.Assign(last, Expression.Subtract(length, Expression.Constant width))
          Expression.Assign(i, Expression.Constant 0)
          Expression.Loop(
              Expression.Block(turn @ [ Expression.IfThen(Expression.Equal(i, last), Expression.Break finished); Expression.Assign(i, next) ]),
              finished) ]
    let variables = Array.concat [ readArrays; writeArrays; pieceArrays; scalarVectors; importVectors; memberVectors; [| i; last; at |] ]
    Expression.Lambda<Loop<'T>>(Expression.Block(variables, body), [| reads; writes; pieces; scalars; offset; length |]).Compile()

/// The group's loop, if it can have one: float32 or float64 throughout, every call with a lane form, a
/// machine with SIMD, and a runtime that compiles code it makes (otherwise expression trees are interpreted).
/// It runs at the widest width the kernels take on the compiling thread (Kernels/Vectors.fs's Width).
let compile (values: Node[]) (owner: int[]) (g: Group) : Delegate option =
    let dtype = values[g.Calls[0].Output].DType
    let ofDType (v: int) = values[v].DType = dtype
    if (dtype = DType.Float64 || dtype = DType.Float32) && g.Calls.Length <= maximumCalls && V.Width.Least
       && Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeCompiled
       && g.Calls |> Array.forall (fun c -> c.Primitive.Lanes.IsSome && ofDType c.Output && Array.forall ofDType c.Args)
       && g.Sums |> Array.forall (fun c -> ofDType c.Output) then
        Some (if dtype = DType.Float64 then build<float> owner g else build<float32> owner g)
    else None
