/// Short text for the nodes the clinic talks about. This file comes after Language in compile order
/// because it prints (the rest of the clinic only reasons about the graph and values and takes this as
/// a function): a node is printed with the expression printer after cutting its subexpressions below a
/// few levels, and large constants, to "…", and the text is capped in length.
module internal FuncDiff.Core.Clinic.NodeText

open FuncDiff
open FuncDiff.Core

/// Levels of a node printed before its subexpressions become "…".
let depth = 4

/// Characters of text at most.
let maxLength = 60

/// Constants with more elements than this print as "…".
let private largeConstant = 6

/// The node printed to `depth` levels, in `maxLength` characters at most.
let show (n: Node) =
    // One elision placeholder for everything cut: an input's type only has to be consistent for printing.
    let elided = Node(Input "…", [||], Shape.Scalar, DType.Float64)
    let rec cut (level: int) (m: Node) =
        match m.Op with
        | Input _ -> m
        | Const t -> if t.Size > largeConstant then elided else m
        | Apply _ when level >= depth -> elided
        | Apply _ -> Node(m.Op, m.Inputs |> Array.map (cut (level + 1)), m.Shape, m.DType)
    let text = Print.print (cut 0 n)
    let oneLine = text.Replace(" in\n", " in ").Replace("\n", " ")
    "`" + (if oneLine.Length <= maxLength then oneLine else oneLine.Substring(0, maxLength - 1) + "…") + "`"
