/// One row per primitive: how to generate valid inputs and attributes for it, from its own domain.
/// The gradient properties run every row; a primitive without a row fails the coverage test.
module internal FuncDiff.Tests.Specs

open FsCheck
open FsCheck.FSharp
open FuncDiff
open FuncDiff.Core
open FuncDiff.Tests.Generators

/// Inputs and attributes for one application of a primitive.
type Case =
    { Inputs: Tensor list
      Attributes: (string * Param) list }

    override c.ToString() =
        let attrs = c.Attributes |> List.map (fun (k, v) -> sprintf "%s=%O" k v)
        let inputs = c.Inputs |> List.mapi (fun i t -> sprintf "a%d = %O" i t)
        String.concat "\n" (inputs @ [ "attributes: " + String.concat ", " attrs ])

/// How a primitive's derivative is checked.
type Check =
    /// Against central finite differences (piecewise-constant primitives must give exactly what
    /// finite differences give away from their jumps: zero).
    | FiniteDifferences
    /// The derivative is zero by request (stopGradient), though the function is not constant.
    | ZeroByRequest

type Spec =
    { Name: string
      /// The test's name: the primitive's, unless a second row covers another part of its domain.
      Label: string
      Case: Gen<Case>
      Check: Check
      /// False where central differences of the derivative leave the domain at the generated points
      /// (d/dy xʸ = xʸ·log x is NaN just below a base of 0).
      SecondOrder: bool }

let private case inputs attrs = { Inputs = inputs; Attributes = attrs }
let private spec name (g: Gen<Case>) = { Name = name; Label = name; Case = g; Check = FiniteDifferences; SecondOrder = true }

let private unary name (d: Domain) =
    spec name (gen {
        let! dims = shape
        let! x = tensor d dims
        return case [ x ] [] })

/// Two operands whose shapes broadcast together.
let private binary name (da: Domain) (db: Domain) =
    spec name (gen {
        let! out = shape
        let! sa = broadcastableTo out
        let! sb = broadcastableTo out
        let! a = tensor da sa
        let! b = tensor db sb
        return case [ a; b ] [] })

let private axisAttributes (rank: int) =
    Gen.frequency
        [ 1, Gen.constant []
          3, axesOf rank |> Gen.map (fun axes -> [ "axis", Param.Ints axes ]) ]

let private reduction name (d: Domain) (nonEmpty: bool) =
    spec name (gen {
        let! dims = if nonEmpty then Gen.choose (0, 3) |> Gen.bind (fun r -> arrayOfLength r positiveDim) else shape
        let! x = tensor d dims
        let! axes = axisAttributes dims.Length
        let! keep = Gen.elements [ true; false ]
        return case [ x ] (("keepdims", Param.Bool keep) :: axes) })

let private argExtreme name =
    spec name (gen {
        let! dims = Gen.choose (0, 3) |> Gen.bind (fun r -> arrayOfLength r positiveDim)
        let! x = tensor Domain.Distinct dims
        let! axis = if dims.Length = 0 then Gen.constant [] else Gen.oneof [ Gen.constant []; Gen.choose (-dims.Length, dims.Length - 1) |> Gen.map (fun a -> [ "axis", Param.Int a ]) ]
        let! keep = Gen.elements [ true; false ]
        return case [ x ] (("keepdims", Param.Bool keep) :: axis) })

let private along name =
    spec name (gen {
        let! dims = shapeOfRank 1 3
        let! x = tensor Domain.Any dims
        let! axis = Gen.choose (-dims.Length, dims.Length - 1)
        return case [ x ] [ "axis", Param.Int axis ] })

let private sliceCase =
    gen {
        let! dims = shapeOfRank 1 3
        let! x = tensor Domain.Any dims
        let! count = Gen.choose (0, dims.Length)
        let bound n = Gen.choose (-n - 1, n + 1)
        let! start = dims[.. count - 1] |> Array.map bound |> Gen.sequenceToArray
        let! stop = dims[.. count - 1] |> Array.map bound |> Gen.sequenceToArray
        let! step = arrayOfLength count (Gen.choose (1, 3))
        return case [ x ] [ "start", Param.Ints (List.ofArray start); "stop", Param.Ints (List.ofArray stop); "step", Param.Ints (List.ofArray step) ]
    }

let private padCase =
    gen {
        let! dims = shapeOfRank 0 3
        let! x = tensor Domain.Any dims
        let widths = arrayOfLength dims.Length (Gen.choose (0, 2)) |> Gen.map (List.ofArray >> Param.Ints)
        let! lo = widths
        let! hi = widths
        let! interior = widths
        return case [ x ] [ "lo", lo; "hi", hi; "interior", interior ]
    }

let private reshapeCase =
    gen {
        let! dims = shape
        let size = Array.fold (*) 1 dims
        let! target = Gen.elements [ [ size ]; [ -1 ]; List.rev (List.ofArray dims); List.ofArray dims @ [ 1 ]; 1 :: List.ofArray dims ]
        let! x = tensor Domain.Any dims
        return case [ x ] [ "shape", Param.Ints target ]
    }

let private concatCase (stack: bool) =
    gen {
        let! dims = shapeOfRank (if stack then 0 else 1) 3
        let! count = Gen.choose (1, 3)
        let! axis = if stack then Gen.choose (0, dims.Length) else Gen.choose (0, dims.Length - 1)
        let! widths = arrayOfLength count dim
        let! xs =
            widths
            |> Array.map (fun w -> tensor Domain.Any (if stack then dims else Array.updateAt axis w dims))
            |> Gen.sequenceToList
        return case xs [ "axis", Param.Int axis ]
    }

/// A shape with an axis of positive size n, and int32 indices into that axis (negative ones too).
let private indexedAxis =
    gen {
        let! dims = Gen.choose (1, 3) |> Gen.bind (fun r -> arrayOfLength r positiveDim)
        let! axis = Gen.choose (0, dims.Length - 1)
        let n = dims[axis]
        let! indices = shapeOfRank 0 2 |> Gen.bind (ints -n (n - 1))
        return dims, axis, indices
    }

let private gatherCase =
    gen {
        let! dims, axis, indices = indexedAxis
        let! x = tensor Domain.Any dims
        return case [ x; indices ] [ "axis", Param.Int axis ]
    }

let private scatterAddCase =
    gen {
        let! dims, axis, indices = indexedAxis
        let! updates = tensor Domain.Any (Array.concat [ dims[.. axis - 1]; indices.Shape.ToArray(); dims[axis + 1 ..] ])
        return case [ indices; updates ] [ "axis", Param.Int axis; "size", Param.Int dims[axis] ]
    }

let private matmulCase =
    gen {
        let! n, k, m = Gen.zip3 positiveDim dim positiveDim
        let! batch = shapeOfRank 0 2
        let! ba = broadcastableTo batch
        let! bb = broadcastableTo batch
        let! form = Gen.elements [ "vv"; "mv"; "vm"; "mm" ]
        let left = if form[0] = 'v' then [| k |] else Array.append ba [| n; k |]
        let right = if form[1] = 'v' then [| k |] else Array.append bb [| k; m |]
        let! a = tensor Domain.Any left
        let! b = tensor Domain.Any right
        return case [ a; b ] []
    }

/// The rows: every catalogue primitive, with inputs from its domain.
let all: Spec list =
    [ // Structural
      spec "reshape" reshapeCase
      spec "broadcastTo" (gen {
          let! out = shape
          let! dims = broadcastableTo out
          let! x = tensor Domain.Any dims
          return case [ x ] [ "shape", Param.Ints (List.ofArray out) ] })
      reduction "sum" Domain.Any false
      spec "transpose" (gen {
          let! dims = shape
          let! x = tensor Domain.Any dims
          let! perm = Gen.shuffle [| 0 .. dims.Length - 1 |]
          let! given = Gen.elements [ true; false ]
          return case [ x ] (if given then [ "perm", Param.Ints (List.ofArray perm) ] else []) })
      spec "squeeze" (gen {
          let! dims = shape
          let! ones = Gen.choose (0, 2)
          let! at = arrayOfLength ones (Gen.choose (0, dims.Length))
          let full = (List.ofArray dims, List.sortDescending (List.ofArray at)) ||> List.fold (fun d i -> List.insertAt i 1 d)
          let! x = tensor Domain.Any (Array.ofList full)
          let onesAt = full |> List.indexed |> List.filter (fun (_, d) -> d = 1) |> List.map fst
          let! axes = Gen.subListOf onesAt
          let! given = Gen.elements [ true; false ]
          return case [ x ] (if given then [ "axis", Param.Ints (List.ofSeq axes) ] else []) })
      spec "unsqueeze" (gen {
          let! dims = shapeOfRank 0 2
          let! added = Gen.choose (1, 2)
          let! axes = Gen.shuffle [| 0 .. dims.Length + added - 1 |]
          let! x = tensor Domain.Any dims
          return case [ x ] [ "axis", Param.Ints (List.ofArray axes[.. added - 1]) ] })
      spec "slice" sliceCase
      spec "pad" padCase
      spec "concat" (concatCase false)
      spec "stack" (concatCase true)
      spec "gather" gatherCase
      spec "scatterAdd" scatterAddCase
      spec "oneHot" (gen {
          let! dims = shapeOfRank 0 2
          let! depth = Gen.choose (0, 4)
          let! indices = ints -1 (depth + 1) dims
          return case [ indices ] [ "depth", Param.Int depth ] })
      // Arithmetic
      unary "neg" Domain.Any
      binary "add" Domain.Any Domain.Any
      binary "sub" Domain.Any Domain.Any
      binary "mul" Domain.WithZeros Domain.WithZeros
      binary "div" Domain.Any Domain.NonZero
      binary "mulNoNan" Domain.WithZeros Domain.WithZeros
      // Logic
      binary "lt" (Domain.Lattice 0.1) (Domain.Lattice 0.35)
      binary "le" (Domain.Lattice 0.1) (Domain.Lattice 0.35)
      binary "gt" (Domain.Lattice 0.1) (Domain.Lattice 0.35)
      binary "ge" (Domain.Lattice 0.1) (Domain.Lattice 0.35)
      binary "eq" (Domain.Lattice 0.1) (Domain.Lattice 0.1)
      binary "ne" (Domain.Lattice 0.1) (Domain.Lattice 0.1)
      spec "logicalAnd" (gen {
          let! dims = shape
          let! a = bools dims
          let! b = broadcastableTo dims |> Gen.bind bools
          return case [ a; b ] [] })
      spec "logicalOr" (gen {
          let! dims = shape
          let! a = broadcastableTo dims |> Gen.bind bools
          let! b = bools dims
          return case [ a; b ] [] })
      spec "logicalNot" (shape |> Gen.bind bools |> Gen.map (fun b -> case [ b ] []))
      spec "where" (gen {
          let! out = shape
          let! c = broadcastableTo out |> Gen.bind bools
          let! a = broadcastableTo out |> Gen.bind (tensor Domain.Any)
          let! b = broadcastableTo out |> Gen.bind (tensor Domain.Any)
          return case [ c; a; b ] [] })
      spec "cast" (gen {
          let! dims = shape
          let! x = tensor Domain.OffIntegers dims
          let! dtype = Gen.elements [ DType.Float64; DType.Int32; DType.Bool ]
          return case [ x ] [ "dtype", Param.DType dtype ] })
      { unary "stopGradient" Domain.Any with Check = ZeroByRequest }
      // Elementary functions
      unary "exp" Domain.Any
      unary "expm1" Domain.Any
      unary "log" Domain.Positive
      unary "log1p" Domain.Positive
      unary "sqrt" Domain.Positive
      unary "square" Domain.Any
      unary "reciprocal" Domain.NonZero
      unary "abs" Domain.NonZero
      unary "sign" Domain.NonZero
      unary "sin" Domain.Any
      unary "cos" Domain.Any
      unary "tan" (Domain.Between(-1.2, 1.2))
      unary "tanh" Domain.Any
      unary "sigmoid" Domain.Any
      unary "relu" Domain.NonZero
      unary "softplus" Domain.Any
      unary "floor" Domain.OffIntegers
      unary "ceil" Domain.OffIntegers
      unary "round" Domain.OffIntegers
      binary "pow" Domain.Positive (Domain.Between(-2.0, 2.0))
      // Integer exponents at bases that include 0, where y·xʸ⁻¹ alone would give 0·∞ (y = 0 has its own tests in EdgeCaseTests:
      // there d/dy of 0ʸ jumps, so finite differences have nothing to agree with).
      { binary "pow" Domain.NonNegative (Domain.Integers(1, 3)) with Label = "pow at integer exponents, bases from 0"; SecondOrder = false }
      binary "maximum" (Domain.Lattice 0.1) (Domain.Lattice 0.35)
      binary "minimum" (Domain.Lattice 0.1) (Domain.Lattice 0.35)
      // Reductions
      reduction "mean" Domain.Any false
      reduction "max" Domain.Distinct true
      reduction "min" Domain.Distinct true
      reduction "prod" Domain.WithZeros false
      reduction "logsumexp" Domain.Any false
      argExtreme "argmax"
      argExtreme "argmin"
      // Linear algebra
      spec "matmul" matmulCase
      spec "matmulNoNan" matmulCase
      spec "dot" (gen {
          let! n = dim
          let! a = tensor Domain.Any [| n |]
          let! b = tensor Domain.Any [| n |]
          return case [ a; b ] [] })
      spec "outer" (gen {
          let! n, m = Gen.zip dim dim
          let! a = tensor Domain.Any [| n |]
          let! b = tensor Domain.Any [| m |]
          return case [ a; b ] [] })
      // Normalisation
      along "softmax"
      along "logSoftmax" ]
