/// Element types of tensors.
[<AutoOpen>]
module FuncDiff.ElementTypes

/// The element type of a tensor. Float64 is the default everywhere a dtype is not given.
[<RequireQualifiedAccess>]
type DType =
    | Float64
    | Float32
    | Bool
    | Int32

    /// Lower-case name as used in printed expressions and JSON: "float64", "float32", "bool", "int32".
    member d.Name =
        match d with
        | Float64 -> "float64"
        | Float32 -> "float32"
        | Bool -> "bool"
        | Int32 -> "int32"

    /// True for float64 and float32: the dtypes derivatives are taken with respect to.
    member d.IsFloat =
        match d with
        | Float64 | Float32 -> true
        | Bool | Int32 -> false

    /// True for the dtypes arithmetic accepts: float64, float32 and int32.
    member d.IsNumeric = d <> Bool

    /// Bytes per element.
    member internal d.ByteSize =
        match d with
        | Float64 -> 8
        | Float32 | Int32 -> 4
        | Bool -> 1

    override d.ToString() = d.Name

/// Functions on <see cref="DType"/>.
[<RequireQualifiedAccess>]
module DType =
    /// Every dtype, in declaration order.
    let all = [ DType.Float64; DType.Float32; DType.Bool; DType.Int32 ]

    /// The dtype with the given name ("float64", "float32", "bool", "int32"), if any.
    let tryParse (name: string) = all |> List.tryFind (fun d -> d.Name = name)
