/// What a compiled plan is made of: kernel calls, fused groups of them, and where each value lives.
module internal FuncDiff.Core.Steps

open FuncDiff

/// Where a value lives while a plan runs.
[<RequireQualifiedAccess>]
type Storage =
    /// The tensor bound to the plan's input with this index.
    | Bound of input: int
    /// A constant the plan owns.
    | Fixed of Tensor
    /// A workspace buffer, written by the step that computes the value.
    | Buffer of buffer: int
    /// The storage of another value (never itself a view), read in this value's shape.
    | View of value: int
    /// Only the blocks of a fused group: no reader outside the group needs all of it at once.
    | Block

/// One kernel call: the output value is computed from the argument values.
type Call =
    { Primitive: Primitive
      /// The primitive's kernel, prepared with the node's attributes when the plan was compiled.
      Run: Tensor[] -> Tensor -> unit
      Args: int[]
      Output: int }

/// Elementwise calls over one element count, run together so that intermediate values stay in registers
/// (a loop) or in cache (blocks: each call runs on a block of every input at a time instead of on whole
/// tensors).
type Group =
    { Calls: Call[]
      /// The element count of every call's result.
      Size: int
      /// Values from outside the group read at full size: each block reads its slice.
      Imports: int[]
      /// Values from outside the group with one element, read whole by every block.
      Scalars: int[]
      /// Results read after the group (or roots): each block writes its slice to their buffers.
      Exports: int[]
      /// Sums of all of a member's elements, taken block by block in Summation.sum's order; their
      /// single-element results are written when the group ends, so no member of the group reads them.
      Sums: Call[]
      /// The group as one loop over SIMD registers (Compile/Loops.fs), a Loops.Loop of the group's float
      /// type, where Loops.compile makes one; None: the group runs block by block.
      Loop: System.Delegate option }

/// One step of a plan's schedule.
type Step =
    | Kernel of Call
    | Fused of Group
    /// sin and cos of one value, as a gradient of either needs: one pass computes both
    /// (Kernels/Trig.fs's sinCos reduces each element once for the two results).
    | Pair of sine: Call * cosine: Call

    /// The values the step reads from outside itself.
    member s.Reads =
        match s with
        | Kernel c -> c.Args
        | Fused g -> Array.append g.Imports g.Scalars
        | Pair (s, _) -> s.Args

    /// The values the step writes to workspace buffers.
    member s.Writes =
        match s with
        | Kernel c -> [| c.Output |]
        | Fused g -> Array.append g.Exports (g.Sums |> Array.map (fun c -> c.Output))
        | Pair (s, c) -> [| s.Output; c.Output |]

/// Whether p is sin (false) or cos (true): the two that a pair, a group or a loop computes from one reduction.
let trigOf (p: Primitive) =
    if obj.ReferenceEquals(p, Primitives.Elementary.sinP) then ValueSome false
    elif obj.ReferenceEquals(p, Primitives.Elementary.cosP) then ValueSome true
    else ValueNone

/// For each call, the index of the sin or cos of the same argument it computes with (the first unpaired
/// one before or after it), or -1: a group's pairs, each computed from one reduction.
let trigPartners (calls: Call[]) =
    let partner = Array.create calls.Length -1
    // The unpaired sin or cos calls so far, by argument and function.
    let waiting = System.Collections.Generic.Dictionary<struct (int * bool), int>()
    for j in 0 .. calls.Length - 1 do
        match trigOf calls[j].Primitive with
        | ValueSome cosine ->
            let arg = calls[j].Args[0]
            match waiting.TryGetValue(struct (arg, not cosine)) with
            | true, i ->
                partner[i] <- j
                partner[j] <- i
                waiting.Remove(struct (arg, not cosine)) |> ignore
            | _ -> waiting[struct (arg, cosine)] <- j
        | ValueNone -> ()
    partner
