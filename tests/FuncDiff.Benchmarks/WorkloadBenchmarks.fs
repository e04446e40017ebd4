/// The workloads of the side-by-side comparison with TorchSharp, exactly as `funcdiff bench` runs them: the same
/// definitions and inputs (the CLI's Workloads.cs), evaluated through the C# facade's Expr.EvalMany, so whatever
/// makes that faster shows here, and as runs of a compiled plan in a workspace (`funcdiff bench --compiled`). Each
/// invocation computes the value and the full gradient (hvp10k: the value and the Hessian-vector product); for ew1m
/// and mlp the function alone is measured too, as the baseline of a ratio.
module FuncDiff.Benchmarks.WorkloadBenchmarks

open System.Collections.Generic
open BenchmarkDotNet.Attributes
open FuncDiff.Cli

// The facade's types, named in full: `open FuncDiff` would bring the core's modules in on top of them.
type private Expr = FuncDiff.Expr
type private Tensor = FuncDiff.Tensor

/// The workload of that name, built in the dtype named ("float64" or "float32").
let private build (name: string) (dtype: string) =
    let workload = Workloads.All |> Seq.find (fun w -> w.Name = name)
    workload.Build.Invoke(if dtype = "float32" then FuncDiff.DType.Float32 else FuncDiff.DType.Float64)

/// Value and full gradient of each workload, in float64 and float32: one repetition of `funcdiff bench`, and of
/// `funcdiff bench --compiled`.
[<MemoryDiagnoser>]
type Gradient() =
    let mutable outputs: Expr[] = [||]
    let mutable inputs: IReadOnlyDictionary<string, Tensor> = Unchecked.defaultof<_>
    let mutable plan: FuncDiff.Plan = null
    let mutable workspace: FuncDiff.Workspace = null

    /// Every workload `funcdiff bench` knows, in the peer's order.
    member _.Names = Workloads.All |> Seq.map (fun w -> w.Name)

    [<ParamsSource("Names")>]
    member val Workload = "" with get, set

    [<Params("float64", "float32")>]
    member val DType = "float64" with get, set

    [<GlobalSetup>]
    member this.Setup() =
        let instance = build this.Workload this.DType
        outputs <- instance.Outputs
        inputs <- instance.Inputs
        plan <- Expr.Compile outputs
        workspace <- plan.CreateWorkspace()
        for name in plan.InputNames do workspace.Bind(name, inputs[name]) |> ignore

    [<Benchmark>]
    member _.ValueAndGradient() = Expr.EvalMany(outputs, inputs)

    /// The same, as a training loop runs it: one compiled plan, run in one workspace, allocating nothing.
    [<Benchmark>]
    member _.CompiledRun() = plan.Run workspace

/// The function alone (the baseline) against the value and full gradient, on one workload bound by memory
/// traffic (ew1m) and one by matrix products (mlp): the Ratio column is the gradient's cost in function evaluations.
[<MemoryDiagnoser>]
type GradientToFunction() =
    let mutable gradient: Expr[] = [||]
    let mutable functionOnly: Expr[] = [||]
    let mutable inputs: IReadOnlyDictionary<string, Tensor> = Unchecked.defaultof<_>

    [<Params("ew1m", "mlp")>]
    member val Workload = "ew1m" with get, set

    [<Params("float64", "float32")>]
    member val DType = "float64" with get, set

    [<GlobalSetup>]
    member this.Setup() =
        let instance = build this.Workload this.DType
        gradient <- instance.Outputs
        functionOnly <- instance.FunctionOutputs
        inputs <- instance.Inputs

    [<Benchmark(Baseline = true)>]
    member _.Function() = Expr.EvalMany(functionOnly, inputs)

    [<Benchmark>]
    member _.ValueAndGradient() = Expr.EvalMany(gradient, inputs)
