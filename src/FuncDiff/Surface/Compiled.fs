/// Compiled plans for F#: `let plan = compile [ loss; yield! grads ]`, then `plan.Run bindings` as often as
/// needed. eval and evalMany already run through a cache of plans; compile is for code that wants to hold
/// its plan, or run it with its own workspace so that a run allocates nothing.
[<AutoOpen>]
module FuncDiff.Compilation

open System.Collections.Generic
open FuncDiff.Core

/// The memory of one run of a plan: every intermediate buffer, made once. Running a plan in a workspace
/// allocates nothing on the managed heap after the first run with the same input tensors' storage.
/// A workspace serves one run at a time: give each thread its own.
[<Sealed>]
type Workspace internal (core: Execute.Workspace) =
    let names = [ for n in core.Plan.Inputs -> match n.Op with Input name -> name | _ -> "" ]
    let inputs = Dictionary<string, Node>()
    do List.iter2 (fun name n -> inputs[name] <- n) names (List.ofArray core.Plan.Inputs)
    let bindings = Dictionary<string, Tensor>()

    member internal _.Core = core
    member internal _.Bindings = bindings :> IReadOnlyDictionary<string, Tensor>
    /// The bytes its buffers hold.
    member _.Bytes = core.Bytes

    /// Binds an input of the plan for the next runs; returns the workspace, so binds chain. A name the
    /// plan does not read (with a suggestion), a null tensor or one of another shape or dtype is an
    /// InputException. A result of this workspace may be bound back (a training step's new weights): it is
    /// copied before the run overwrites it.
    member w.Bind(name: string, value: Tensor) =
        if isNull name then nullArg "name"
        let mutable input = Unchecked.defaultof<Node>
        if not (inputs.TryGetValue(name, &input)) then
            let hint = Names.didYouMean (Names.closest name names)
            let reads = if names.IsEmpty then "it reads no inputs" else "it reads " + System.String.Join(", ", names)
            raise (InputException(name, sprintf "the plan has no input '%s'%s; %s" name hint reads))
        Interpreter.checkInput name input value
        // Claimed like a run: a Bind from another thread must not change what a run is reading.
        core.Enter()
        try bindings[name] <- value
        finally core.Leave()
        w

/// The outputs of a set of expressions, compiled once: simplified (constant folding, ×1 and
/// transpose-of-transpose removed, exactly), common subexpressions merged, scheduled with elementwise
/// runs fused into loops over SIMD registers or cache-sized blocks, and given buffers that are reused as
/// soon as their last reader has run. Values are bit-identical to the interpreter's, but for the sign and
/// payload of a NaN where two NaNs meet (the processor's pick, docs/performance.md).
/// Run(bindings) is safe from several threads at once; a workspace serves one run at a time (a second
/// thread running the same workspace meanwhile gets a FuncDiffException), so give each thread its own.
[<Sealed>]
type Plan internal (compiled: Plans.Compiled) =
    let plan = compiled.Plan

    /// The names of the inputs the plan reads, with their declared shapes and dtypes.
    member _.Inputs = [ for n in plan.Inputs -> (match n.Op with Input name -> name | _ -> ""), n.Shape, n.DType ]
    /// How many kernel calls a run makes.
    member _.Steps = plan.Calls
    /// How many intermediate buffers a workspace holds (fewer than steps: buffers are reused).
    member _.Buffers = plan.Buffers.Length

    /// The schedule, one step per line: each kernel call, and each fused group with its calls.
    override _.ToString() = Plan.describe plan

    /// The outputs' values as tensors of their own. Extra bindings are ignored; a missing or
    /// mistyped input is an InputException naming it.
    member _.Run(bindings: IReadOnlyDictionary<string, Tensor>) : Tensor list = compiled.Evaluate bindings

    /// The outputs' values given tensors for the inputs, by name.
    member p.Run(bindings: (string * Tensor) list) : Tensor list = p.Run(bindingsOf bindings)

    /// A new workspace for this plan.
    member _.CreateWorkspace() = Workspace(Execute.Workspace plan)

    /// Runs in the workspace. The results (the list and its tensors) are the workspace's own: its next run
    /// overwrites them, so copy what must outlive it (an input or constant output is the tensor itself;
    /// `constant` copies a result itself).
    member _.Run(workspace: Workspace, bindings: IReadOnlyDictionary<string, Tensor>) : IReadOnlyList<Tensor> =
        if isNull (box workspace) then nullArg "workspace"
        if not (obj.ReferenceEquals(workspace.Core.Plan, plan)) then
            raise (FuncDiffException "this workspace was created by another plan; use plan.CreateWorkspace()")
        compiled.RunIn(workspace.Core, bindings) :> IReadOnlyList<Tensor>

    /// Runs in the workspace on the tensors bound to it with Bind; the results are as for
    /// Run(workspace, bindings).
    member p.Run(workspace: Workspace) : IReadOnlyList<Tensor> =
        if isNull (box workspace) then nullArg "workspace"
        p.Run(workspace, workspace.Bindings)

/// Compiles the outputs into a plan (cached: compiling equal expressions again reuses the compiled
/// schedule). The plan keeps its own workspaces for Run(bindings) while it is held.
let compile (outputs: Expr list) = Plan(Plans.held [ for x in outputs -> x.Node ])
