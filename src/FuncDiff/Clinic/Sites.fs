/// Where nodes were created. (A module, so the C# facade's own CreationSite does not clash with it.)
[<AutoOpen>]
module FuncDiff.Provenance

open System
open System.Diagnostics
open System.IO
open System.Runtime.CompilerServices
open System.Threading
open FuncDiff.Core

/// Where a node of an expression was created.
[<RequireQualifiedAccess>]
type CreationSite =
    /// At this 1-based line and column of a parsed expression's text.
    | Text of line: int * column: int
    /// In the caller's code: the first stack frame outside FuncDiff when the node was built with
    /// creation-site capture on. File is empty (and line and column 0) when that code has no debug symbols.
    | Code of file: string * line: int * column: int * caller: string

    /// "1:5" for text; "Model.fs:12:9" for code (the file name without its folder), or the caller's name
    /// when there are no debug symbols.
    override s.ToString() =
        match s with
        | Text (line, column) -> sprintf "%d:%d" line column
        | Code (file, line, column, caller) ->
            if String.IsNullOrEmpty file then caller else sprintf "%s:%d:%d" (Path.GetFileName file) line column

/// The creation sites of nodes, kept beside the graph: a node's identity, equality and hash ignore them,
/// and a node that is collected takes its site with it.
module internal Sites =
    let private table = ConditionalWeakTable<Node, CreationSite>()
    let private capturing = AsyncLocal<int>()

    /// The site recorded for a node, if any.
    let tryFind (n: Node) =
        match table.TryGetValue n with
        | true, s -> Some s
        | _ -> None

    /// Records a site for a node that has none yet: the first record wins, so a node reused later
    /// (an input parsed into a second text, an expression wrapped again) keeps where it was made.
    let record (n: Node) (site: CreationSite) = table.TryAdd(n, site) |> ignore

    /// Records the position of the parsed token a node was built at (an input declared outside the
    /// text: its first use), and gives the node back.
    let placed (n: Node) (line: int) (column: int) =
        record n (CreationSite.Text(line, column))
        n

    /// True inside CreationSites.Enable scopes on this logical thread (async flows included).
    let isCapturing () = capturing.Value > 0

    let enable () =
        capturing.Value <- capturing.Value + 1
        let mutable disposed = 0
        { new IDisposable with
            member _.Dispose() =
                if Interlocked.Exchange(&disposed, 1) = 0 then capturing.Value <- capturing.Value - 1 }

    /// Runs f with capture off: nodes the library wraps for its own answers (explain's causes, drawn
    /// gradients) must not take the site of the code that asked.
    let paused (f: unit -> 'T) =
        let saved = capturing.Value
        capturing.Value <- 0
        try f () finally capturing.Value <- saved

    // The library's own frames, and FSharp.Core's (pipelines, List.map), are never the user's code.
    let private isLibrary (t: Type) =
        match t.Assembly.GetName().Name with
        | "FuncDiff" | "FuncDiff.CSharp" | "FSharp.Core" -> true
        | _ -> false

    /// The first stack frame outside the library, as a site.
    let private caller () =
        let frames = StackTrace(2, true).GetFrames()
        frames
        |> Array.tryFind (fun f ->
            let m = f.GetMethod()
            not (isNull m) && not (isNull m.DeclaringType) && not (isLibrary m.DeclaringType))
        |> Option.map (fun f ->
            let m = f.GetMethod()
            let name = m.DeclaringType.FullName + "." + m.Name
            match f.GetFileName() with
            | null -> CreationSite.Code("", 0, 0, name)
            | file -> CreationSite.Code(file, f.GetFileLineNumber(), f.GetFileColumnNumber(), name))

    /// Records the caller's site for a node a user operation built, when capture is on.
    let capture (n: Node) =
        if isCapturing () && not (fst (table.TryGetValue n)) then
            match caller () with
            | Some site -> record n site
            | None -> ()
