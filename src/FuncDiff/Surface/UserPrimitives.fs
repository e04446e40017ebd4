/// Primitives defined by users: a name, a shape rule, a forward kernel and a derivative rule written as
/// expressions, so that they print, parse, differentiate (to any order) and are checked like built-ins.
[<AutoOpen>]
module FuncDiff.UserPrimitives

open System
open FuncDiff.Core
open FuncDiff.Core.Primitives

/// What the derivative rule of a user-defined primitive receives, as expressions.
type VjpContext =
    { /// The cotangent of the output (its shape and dtype).
      Cotangent: Expr
      /// The output itself, for rules that reuse it (exp' = exp).
      Output: Expr
      /// The inputs, in order.
      Inputs: Expr list }

/// How a user-defined primitive is differentiated. There is no fourth way: a primitive without a
/// derivative rule must say that its derivative is zero, and why.
[<RequireQualifiedAccess>]
type Derivative =
    /// The vector-Jacobian product: one cotangent per input, of the input's shape and dtype (None where
    /// no cotangent flows, e.g. an integer input), written as expressions so it can be differentiated again.
    | Vjp of (VjpContext -> Expr option list)
    /// Constant between jumps (a step, a rounding): the derivative is exactly zero by definition.
    | PiecewiseConstant
    /// Not differentiable at all: the gradient through it is an explicit zero, and the reason is kept.
    | NonDifferentiable of reason: string

/// A primitive defined with Primitive.define: apply it to expressions like a built-in.
[<Sealed>]
type UserPrimitive internal (p: Primitive) =
    member internal _.Primitive = p
    /// The name it prints and parses as.
    member _.Name = p.Name
    /// Applies the primitive; its shape rule runs now, so a mismatch is an ExprException naming it.
    member _.Apply(inputs: seq<Expr>) = Expr(Rules.apply p [] [ for x in inputs -> x.Node ])
    /// How it behaves under differentiation.
    member _.Differentiability = p.Differentiability
    override _.ToString() = p.Name

/// Defining primitives.
[<RequireQualifiedAccess>]
module Primitive =

    /// The shape rule of an elementwise primitive: float inputs of one dtype, broadcast together.
    let elementwise (inputs: (Shape * DType) list) : Shape * DType =
        match inputs with
        | [] -> invalidArg "inputs" "an elementwise primitive needs at least one input"
        | (_, dtype) :: _ ->
            for _, d in inputs do
                if d <> dtype then failwithf "dtypes differ: %O and %O" dtype d
                if not d.IsFloat then failwithf "inputs must be floating point, got %O" d
            let shape =
                inputs |> List.map fst |> List.reduce (fun a b ->
                    match ShapeMath.tryBroadcast a b with
                    | Ok s -> s
                    | Error message -> failwith message)
            shape, dtype

    /// Defines a primitive and registers it by name, so that Expr.Parse reads `name(a, b)` from then on.
    /// infer gives the output's shape and dtype from the inputs' (raise with a message to refuse them: it
    /// becomes an ExprException naming the primitive); forward computes the output tensor from the input
    /// tensors; derivative says how it is differentiated. The name must be an identifier that no primitive
    /// has yet. Applications print as `name(a, b)`.
    let define (name: string) (doc: string) (inputs: string list) (infer: (Shape * DType) list -> Shape * DType) (forward: Tensor list -> Tensor) (derivative: Derivative) =
        if isNull name || not (Syntax.isIdentifier name) || Syntax.reserved.Contains name then
            raise (ExprException(sprintf "a primitive's name must be an identifier that is not a reserved word, got %A" name))
        if inputs.IsEmpty then raise (ExprException(sprintf "%s: a primitive needs at least one input" name))
        let differentiability, vjp =
            match derivative with
            | Derivative.Vjp rule ->
                Differentiability.Smooth,
                fun (v: VjpArgs) ->
                    let slots = rule { Cotangent = Expr v.Cotangent; Output = Expr v.Output; Inputs = [ for i in v.Inputs -> Expr i ] }
                    if slots.Length <> v.Inputs.Length then
                        raise (GradientException(sprintf "%s: the derivative rule gave %d cotangents for %d inputs" name slots.Length v.Inputs.Length))
                    slots |> List.map (Option.map (fun (e: Expr) -> e.Node))
            | Derivative.PiecewiseConstant -> Differentiability.PiecewiseConstant, Rules.noDerivative
            | Derivative.NonDifferentiable reason -> Differentiability.NonDifferentiable reason, Rules.noDerivative
        let entry =
            { Rules.primitive name Family.UserDefined doc with
                Differentiability = differentiability
                Inputs = inputs
                Infer =
                    fun _ xs ->
                        let shape, dtype =
                            try infer [ for x in xs -> x.Shape, x.DType ]
                            with
                            | :? FuncDiffException -> reraise ()
                            | e -> raise (RuleError e.Message)
                        Map.empty, shape, dtype
                Prepare = Rules.withoutAttributes (fun xs out ->
                    let result = forward (List.ofArray xs)
                    if isNull (box result) || not (result.Shape.Equals out.Shape) || result.DType <> out.DType then
                        let got = if isNull (box result) then "null" else sprintf "%O%O" result.DType result.Shape
                        raise (EvaluationException(sprintf "%s: the forward kernel returned %s, but the shape rule says %O%O" name got out.DType out.Shape))
                    Array.Copy(result.Data, out.Data, out.Size))
                Vjp = vjp }
        Registry.register entry
        UserPrimitive entry
