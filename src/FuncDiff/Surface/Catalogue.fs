/// A read-only view of the primitive catalogue: what each primitive is called, takes and guarantees.
[<AutoOpen>]
module FuncDiff.PrimitiveCatalogue

open FuncDiff.Core
open FuncDiff.Core.Primitives

/// What FuncDiff knows about one primitive.
type PrimitiveInfo =
    { /// The name used by printing, parsing and error messages.
      Name: string
      Family: Family
      Differentiability: Differentiability
      /// Names of the inputs; the last repeats when Variadic.
      Inputs: string list
      Variadic: bool
      /// Names of the attributes the primitive accepts.
      Attributes: string list
      /// The formula and its edge cases.
      Doc: string }

/// The primitives FuncDiff knows.
[<RequireQualifiedAccess>]
module Catalogue =
    let private info (p: Primitive) =
        { Name = p.Name
          Family = p.Family
          Differentiability = p.Differentiability
          Inputs = p.Inputs
          Variadic = p.Variadic
          Attributes = p.Attributes |> List.map (fun a -> a.Name)
          Doc = p.Doc }

    /// Every built-in primitive, grouped by family.
    let all = Registry.all |> List.map info

    /// The primitives defined with Primitive.define so far, by name.
    let userDefined () = Registry.userDefined () |> List.map info

    /// The primitive with this name, built in or user-defined, if any.
    let tryFind (name: string) = Registry.tryFind name |> Option.map info
