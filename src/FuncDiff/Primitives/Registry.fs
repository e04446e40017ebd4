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

/// Primitives defined at run time, by name; process-wide so that parsing finds them by name.
let private defined = System.Collections.Concurrent.ConcurrentDictionary<string, Primitive>()

/// The entry with this name, built in or defined, if any.
let tryFind (name: string) =
    match byName.TryGetValue name with
    | true, p -> Some p
    | _ ->
        match defined.TryGetValue name with
        | true, p -> Some p
        | _ -> None

/// Adds a user-defined primitive; its name must be new.
let register (p: Primitive) =
    if byName.ContainsKey p.Name then raise (ExprException(sprintf "'%s' is a built-in primitive; choose another name" p.Name))
    if not (defined.TryAdd(p.Name, p)) then raise (ExprException(sprintf "a primitive named '%s' is already defined; define each name once" p.Name))

/// The user-defined primitives, by name.
let userDefined () = defined.Values |> Seq.sortBy (fun p -> p.Name) |> List.ofSeq
