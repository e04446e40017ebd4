/// Gradient checking for F#: `GradCheck.expect bindings [ w; b ] loss` in a test, or `GradCheck.check`
/// for the report. The rule and its defaults are on GradCheckOptions.
[<AutoOpen>]
module FuncDiff.Checking

open System.Collections.Generic
open FuncDiff.Core
open FuncDiff.Core.Primitives

/// Derivatives against central finite differences in float64. A scalar output is checked through its
/// gradient, any other through the vjp with a seeded random cotangent (so nothing is summed for you).
[<RequireQualifiedAccess>]
module GradCheck =
    let private nodes (xs: Expr list) = [ for x in xs -> x.Node ]

    /// The report of a first-order check with the given options.
    let checkWith (options: GradCheckOptions) (bindings: (string * Tensor) list) (wrt: Expr list) (output: Expr) =
        GradientCheck.check options (bindingsOf bindings) output.Node (nodes wrt)

    /// The report of a first-order check with the default options.
    let check bindings wrt output = checkWith GradCheckOptions.Default bindings wrt output

    /// The report of a second-order check (the derivative of the derivative) with the given options.
    let secondOrderWith (options: GradCheckOptions) (bindings: (string * Tensor) list) (wrt: Expr list) (output: Expr) =
        GradientCheck.checkSecondOrder options (bindingsOf bindings) output.Node (nodes wrt)

    /// The report of a second-order check with the default options.
    let secondOrder bindings wrt output = secondOrderWith GradCheckOptions.Default bindings wrt output

    /// Raises GradCheckException, whose message is the report, unless the report passes: for test frameworks.
    let raiseIfFailed (report: GradCheckReport) = if not report.Ok then raise (GradCheckException(string report))

    /// Checks with the default options and raises GradCheckException, whose message is the report, on failure.
    let expect bindings wrt output = check bindings wrt output |> raiseIfFailed

    /// Checks a user-defined primitive's derivative rule, first and second order, at `cases` sets of float64
    /// inputs of the given shapes with values drawn from the domain (seeded by options.Seed). Gives the first
    /// report that fails, or the last one when all pass; a primitive declared not differentiable has nothing
    /// to check and gives an empty report saying so.
    let primitiveWith (options: GradCheckOptions) (cases: int) (domain: Domain) (shapes: int list list) (p: UserPrimitive) =
        match p.Differentiability with
        | Differentiability.NonDifferentiable reason -> { Method = sprintf "%s is not differentiable (%s)" p.Name reason; Inputs = []; Options = options }
        | _ ->
            if cases < 1 then raise (FuncDiffException(sprintf "GradCheck.primitive: cases must be at least 1, got %d" cases))
            if shapes.Length <> p.Primitive.Inputs.Length then
                raise (FuncDiffException(sprintf "GradCheck.primitive: %s takes %d inputs (%s), but %d shapes were given" p.Name p.Primitive.Inputs.Length (String.concat ", " p.Primitive.Inputs) shapes.Length))
            // The inputs carry the primitive's own input names where those can name inputs.
            let declared = p.Primitive.Inputs
            let usable (n: string) = Syntax.isIdentifier n && not (Syntax.reserved.Contains n) && (Registry.tryFind n).IsNone
            let names = if List.forall usable declared && List.length (List.distinct declared) = declared.Length then declared else List.mapi (fun i _ -> sprintf "a%d" i) declared
            let inputs = List.map2 (fun name (dims: int list) -> Expr.Input(name, dims)) names shapes
            let output = p.Apply inputs
            let output = if output.DType = DType.Float64 then output else Expr(Logic.cast DType.Float64 output.Node)
            let g = Random.Generator(int64 options.Seed)
            let mutable result = None
            let mutable k = 0
            while k < cases && (result |> Option.forall (fun (r: GradCheckReport) -> r.Ok)) do
                let bindings = [ for name, dims in List.zip names shapes -> name, Tensor.ofData dims (domain.Draw(List.fold (*) 1 dims, g.NextUniform)) ]
                let first = checkWith options bindings inputs output
                result <- Some (if first.Ok && p.Differentiability = Differentiability.Smooth then secondOrderWith options bindings inputs output else first)
                k <- k + 1
            match result with
            | Some r -> { r with Method = sprintf "%s, case %d of %d: %s" p.Name k cases r.Method }
            | None -> { Method = sprintf "%s: no cases" p.Name; Inputs = []; Options = options }

    /// primitiveWith every element, 20 cases.
    let primitive (domain: Domain) (shapes: int list list) (p: UserPrimitive) =
        primitiveWith { GradCheckOptions.Default with Sample = None } 20 domain shapes p
