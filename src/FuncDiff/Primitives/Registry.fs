/// Every primitive, found by name. A family adds an entry by listing it in its own `entries`.
module internal FuncDiff.Core.Primitives.Registry

open System.Collections.Generic
open FuncDiff
open FuncDiff.Core

let all: Primitive list =
    List.concat
        [ Structural.entries ()
          Arithmetic.entries ()
          Logic.entries ()
          Elementary.entries ()
          Reductions.entries ()
          LinearAlgebra.entries ()
          Normalization.entries () ]

let private byName =
    let d = Dictionary<string, Primitive>()
    for p in all do
        if d.ContainsKey p.Name then invalidOp (sprintf "two catalogue entries are named %s" p.Name)
        d[p.Name] <- p
    d

/// The entry with this name, if any.
let tryFind (name: string) =
    match byName.TryGetValue name with
    | true, p -> Some p
    | _ -> None
