/// Gradient checking: derivatives against central finite differences in float64, under one tolerance
/// rule that the command line, the test suite and users share.
namespace FuncDiff

open System
open System.Collections.Generic
open FuncDiff.Core

/// A gradient check failed; the message is the report (GradCheck.check gives it as a value).
type GradCheckException(report: string) =
    inherit FuncDiffException(report)

/// The checker's options and reports (F# names; the C# facade has its own).
[<AutoOpen>]
module GradCheckReports =

    /// How a derivative is compared with central finite differences.
    ///
    /// Element i of an input x is moved by h = Step·max(1, |xᵢ|) (relative for large values, absolute near
    /// zero), and the difference quotient divides by the step actually taken, (xᵢ + h) − (xᵢ − h) in floating
    /// point. The element passes when
    ///
    ///     |analytic − fd| ≤ AbsoluteTolerance + RelativeTolerance·|fd| + RoundingUlps·ε·S/h
    ///
    /// where ε is the float64 machine epsilon and S the magnitude of the terms summed in the checked
    /// function at x ± h (|f| for a scalar output, Σ|outᵢ·rᵢ| for a vector output checked through the
    /// cotangent r): the first two terms allow for the O(h²) truncation error, the last for rounding in
    /// f(x ± h), which the quotient magnifies by 1/h. NaN never passes.
    type GradCheckOptions =
        { /// Default 1e-6.
          RelativeTolerance: float
          /// Default 1e-6.
          AbsoluteTolerance: float
          /// How many machine epsilons of rounding in each evaluation the rule allows for. Default 100.
          RoundingUlps: float
          /// The relative step. Default 1e-6.
          Step: float
          /// How many elements of each input to check: a seeded sample of this many when the input has
          /// more, every element when None. Default Some 100: each element costs two evaluations.
          Sample: int option
          /// Seeds the sample and the random cotangent of a non-scalar output. Default 0.
          Seed: int
          /// Called after each element with (elements done, elements to do), over all inputs.
          Progress: (int -> int -> unit) option }

        /// The defaults stated on each field.
        static member Default =
            { RelativeTolerance = 1e-6
              AbsoluteTolerance = 1e-6
              RoundingUlps = 100.0
              Step = 1e-6
              Sample = Some 100
              Seed = 0
              Progress = None }

        /// The rule as the reports print it.
        member o.Rule =
            sprintf "|analytic - fd| <= %g + %g*|fd| + %g*eps*S/h, h = %g*max(1, |x|)" o.AbsoluteTolerance o.RelativeTolerance o.RoundingUlps o.Step

    /// Where generated input values come from, for checking a derivative rule away from its edges.
    [<RequireQualifiedAccess>]
    type Domain =
        /// [-2, 2]
        | Any
        /// [0.25, 3]: log, sqrt, reciprocal, pow bases
        | Positive
        /// ±[0.25, 2]: away from the kinks of abs and relu and the pole of 1/x
        | NonZero
        /// k + [0.1, 0.4] or k + [0.6, 0.9] for an integer k in [-3, 2]: away from the jumps of floor and round
        | OffIntegers
        /// Distinct values 0.25 apart within a tensor: no ties for max, min and argmax
        | Distinct
        /// [lo, hi]
        | Between of lo: float * hi: float
        /// [-2, 2] with exact zeros mixed in (one value in four): products and prod at zeros
        | WithZeros
        /// [0, 2] with exact zeros mixed in: pow bases at 0
        | NonNegative
        /// offset + 0.5k for an integer k in [-4, 4]: two lattices with different offsets never meet
        | Lattice of offset: float
        /// The integers lo to hi: exponents, counts
        | Integers of lo: int * hi: int

        /// count values of the domain from a uniform source on [0, 1).
        member d.Draw(count: int, uniform: unit -> float) : float[] =
            let between lo hi = lo + (hi - lo) * uniform ()
            match d with
            | Any -> Array.init count (fun _ -> between -2.0 2.0)
            | Positive -> Array.init count (fun _ -> between 0.25 3.0)
            | NonZero -> Array.init count (fun _ -> (if uniform () < 0.5 then -1.0 else 1.0) * between 0.25 2.0)
            | OffIntegers -> Array.init count (fun _ -> floor (between -3.0 3.0) + (if uniform () < 0.5 then 0.1 else 0.6) + between 0.0 0.3)
            | Distinct ->
                let grid = Array.init count (fun i -> 0.25 * float (i - count / 2))
                for i in count - 1 .. -1 .. 1 do
                    let j = int (uniform () * float (i + 1))
                    let t = grid[i]
                    grid[i] <- grid[j]
                    grid[j] <- t
                grid
            | Between (lo, hi) -> Array.init count (fun _ -> between lo hi)
            | WithZeros -> Array.init count (fun _ -> if uniform () < 0.25 then 0.0 else between -2.0 2.0)
            | NonNegative -> Array.init count (fun _ -> if uniform () < 0.25 then 0.0 else between 0.0 2.0)
            | Lattice offset -> Array.init count (fun _ -> offset + 0.5 * float (int (uniform () * 9.0) - 4))
            | Integers (lo, hi) -> Array.init count (fun _ -> float (lo + int (uniform () * float (hi - lo + 1))))

        /// Simpler values than v that stay in the domain, simplest first: what a failing case shrinks toward.
        member d.Simpler(v: float) : float list =
            let candidates =
                match d with
                // Exact zeros only where the domain draws them: a shrink onto 0 would leave the domain's
                // distribution and often land on a kink (relu, abs) that then hides the real failure.
                | Any | Between _ -> [ float (sign v); Math.Round v; Math.Round(v, 1) ] |> List.filter (fun c -> c <> 0.0)
                | WithZeros -> [ 0.0; 1.0; -1.0; Math.Round v; Math.Round(v, 1) ]
                | NonNegative -> [ 0.0; 1.0; Math.Round v; Math.Round(v, 1) ]
                | Positive -> [ 1.0; 0.5; 2.0; Math.Round(v, 1) ]
                | NonZero -> [ float (sign v); 0.5 * float (sign v); Math.Round(v, 1) ]
                | OffIntegers -> [ floor v + 0.25; floor v + 0.75 ]
                | Lattice offset -> [ offset; offset + 0.5; offset - 0.5 ]
                | Integers (lo, hi) -> [ float (max lo (min hi 0)); float lo ]
                | Distinct -> []
            let inside x =
                match d with
                | Any -> abs x <= 2.0
                | WithZeros -> abs x <= 2.0
                | Between (lo, hi) -> lo <= x && x <= hi
                | NonNegative -> 0.0 <= x && x <= 2.0
                | Positive -> 0.25 <= x && x <= 3.0
                | NonZero -> 0.25 <= abs x && abs x <= 2.0
                | OffIntegers -> let f = x - floor x in (0.1 <= f && f <= 0.4) || (0.6 <= f && f <= 0.9)
                | Lattice offset -> abs (x - offset) <= 2.0
                | Integers (lo, hi) -> float lo <= x && x <= float hi
                | Distinct -> false
            // Fewer decimals first, then smaller magnitude: a strict order, so shrinking ends.
            let rank (x: float) = (List.tryFind (fun (k: int) -> Math.Round(x, k) = x) [ 0 .. 4 ] |> Option.defaultValue 5), abs x
            candidates |> List.filter (fun c -> inside c && rank c < rank v) |> List.distinct

    /// One element of a derivative and its central difference.
    type CheckedElement =
        { /// The element's position in its input.
          Index: int[]
          Analytic: float
          FiniteDifference: float
          /// The error the rule allows at this element.
          Allowed: float }

    /// How one input's derivative compares with central differences.
    type InputCheck =
        { Name: string
          /// Elements of the input.
          Elements: int
          /// Elements compared: all of them, or a seeded sample.
          Checked: int
          /// Compared elements outside the tolerance.
          Failed: int
          /// The largest |analytic − fd|; NaN when any compared element is NaN.
          MaxAbsError: float
          /// The largest |analytic − fd| / max(|analytic|, |fd|) (0 where both are 0); NaN as above.
          MaxRelError: float
          /// The element furthest outside its tolerance, or closest to it when all pass; None when none was compared.
          Worst: CheckedElement option
          /// The largest |analytic| or |fd| compared: when it is below the absolute tolerance, the rule cannot
          /// tell a right derivative from a wrong one, and the report says so.
          MaxMagnitude: float }

        /// True when every compared element is within the tolerance.
        member c.Ok = c.Failed = 0

    /// The outcome of a gradient check: one entry per input checked.
    type GradCheckReport =
        { /// What was compared: "gradient", "vjp with a random cotangent" or the second-order form.
          Method: string
          Inputs: InputCheck list
          Options: GradCheckOptions }

        /// True when every input passes.
        member r.Ok = r.Inputs |> List.forall (fun i -> i.Ok)

        /// A readable account: a line per input, its worst element, and the rule.
        override r.ToString() =
            let lines = ResizeArray<string>()
            let failing = r.Inputs |> List.filter (fun i -> not i.Ok) |> List.length
            lines.Add(
                if failing = 0 then sprintf "gradient check passed (%s)" r.Method
                else sprintf "gradient check FAILED for %d of %d input%s (%s)" failing r.Inputs.Length (if r.Inputs.Length = 1 then "" else "s") r.Method)
            for i in r.Inputs do
                let status = if i.Ok then "ok" else sprintf "%d of %d checked elements outside the tolerance" i.Failed i.Checked
                lines.Add(sprintf "  %s: %s (checked %d of %d); max abs error %.3g, max rel error %.3g" i.Name status i.Checked i.Elements i.MaxAbsError i.MaxRelError)
                if i.Ok && i.Checked > 0 && i.MaxMagnitude < r.Options.AbsoluteTolerance then
                    lines.Add(sprintf "    warning: every compared derivative of %s is below the absolute tolerance %g (largest %.3g), so this check cannot tell a right derivative from a wrong one; lower AbsoluteTolerance" i.Name r.Options.AbsoluteTolerance i.MaxMagnitude)
                match i.Worst with
                | Some w when not i.Ok ->
                    lines.Add(sprintf "    worst at %s: analytic %.12g, finite difference %.12g, allowed error %.3g" ("[" + String.Join(", ", w.Index) + "]") w.Analytic w.FiniteDifference w.Allowed)
                | _ -> ()
            lines.Add("  rule: " + r.Options.Rule)
            String.Join(Environment.NewLine, lines)

/// The checker on graph nodes; Surface gives it to F# and the facade to C#.
module internal GradientCheck =

    // 2⁻⁵², the gap between 1 and the next float64 (Double.Epsilon is the smallest subnormal).
    let private machineEpsilon = Math.BitIncrement 1.0 - 1.0

    /// The positions of an input to check: all of them, or a seeded sample in ascending order.
    let private positions (options: GradCheckOptions) (salt: int) (n: int) =
        match options.Sample with
        | Some k when k < n ->
            if k < 0 then raise (FuncDiffException(sprintf "GradCheck: Sample must be non-negative, got %d" k))
            let g = Random.Generator(int64 options.Seed * 7919L + int64 salt)
            let all = Array.init n id
            // A partial Fisher–Yates shuffle: the first k are a uniform sample.
            for i in 0 .. k - 1 do
                let j = i + int (g.NextUniform() * float (n - i))
                let t = all[i]
                all[i] <- all[j]
                all[j] <- t
            Array.sort all[.. k - 1]
        | _ -> Array.init n id

    let private requireFloat64 (what: string) (n: Node) =
        if n.DType <> DType.Float64 then
            raise (GradientException(sprintf "GradCheck works in float64, but %s is %s; build the expression over float64 inputs to check it" what n.TypeText))

    /// f and S at the bindings: the checked scalar and the magnitude of its terms.
    let private measure (bindings: IReadOnlyDictionary<string, Tensor>) (output: Node) (cotangent: Tensor option) =
        let out = (Plans.evaluate bindings [ output ]).Head.ToFloat64Array()
        match cotangent with
        | None -> out[0], abs out[0]
        | Some r ->
            let r = r.ToFloat64Array()
            let mutable f, s = 0.0, 0.0
            for i in 0 .. out.Length - 1 do
                f <- f + out[i] * r[i]
                s <- s + abs (out[i] * r[i])
            f, s

    /// Refuses options under which a check would pass or fail without comparing anything.
    let private validate (options: GradCheckOptions) =
        let fail what = raise (FuncDiffException(sprintf "GradCheck: %s" what))
        let nonNegative (name: string) (v: float) = if not (v >= 0.0 && Double.IsFinite v) then fail (sprintf "%s must be a finite number ≥ 0, got %g" name v)
        nonNegative "RelativeTolerance" options.RelativeTolerance
        nonNegative "AbsoluteTolerance" options.AbsoluteTolerance
        nonNegative "RoundingUlps" options.RoundingUlps
        // Below about 1e-12 the step is lost in rounding; above 0.1 the truncation error swamps any rule.
        if not (options.Step >= 1e-12 && options.Step <= 0.1) then fail (sprintf "Step must be between 1e-12 and 0.1, got %g" options.Step)
        match options.Sample with
        | Some k when k < 1 -> fail (sprintf "Sample must be at least 1 (None checks every element), got %d" k)
        | _ -> ()

    /// The names of the inputs to check: float64 inputs of the expression, bound, at least one.
    let private inputNames (bindings: IReadOnlyDictionary<string, Tensor>) (wrt: Node list) =
        if wrt.IsEmpty then raise (GradientException "GradCheck needs at least one input to check; with none, a check would pass without comparing anything")
        wrt |> List.map (fun w ->
            match w.Op with
            | Input name ->
                requireFloat64 (sprintf "input '%s'" name) w
                if not (bindings.ContainsKey name) then
                    raise (InputException(name, sprintf "GradCheck: input '%s' (%s) is not bound; bind a tensor to every input checked" name w.TypeText))
                name
            | _ -> raise (GradientException(sprintf "GradCheck checks derivatives with respect to inputs, and this %s node is not one" w.Name)))

    /// Compares the derivative of f = Σ output·cotangent (f = output for a scalar without one) with respect
    /// to each of wrt (inputs of output) at the bindings.
    let private compare (options: GradCheckOptions) (method: string) (bindings: IReadOnlyDictionary<string, Tensor>) (output: Node) (cotangent: Tensor option) (wrt: Node list) =
        validate options
        let names = inputNames bindings wrt
        let derivatives =
            match cotangent with
            | None -> Reverse.grad output wrt
            | Some r -> Reverse.vjp [ output ] [ Rules.constant r ] wrt
        let analytic = Plans.evaluate bindings derivatives |> List.map (fun t -> t.ToFloat64Array())
        let plan = names |> List.mapi (fun k name -> name, positions options k bindings[name].Size)
        let total = plan |> List.sumBy (fun (_, ps) -> ps.Length)
        let mutable done' = 0
        let values = Dictionary<string, Tensor>(bindings)
        let results =
            List.map2 (fun (name: string, picked: int[]) (analytic: float[]) ->
                let bound = bindings[name]
                let dims = bound.Shape.ToArray()
                let point = bound.ToFloat64Array()
                let at (x: float[]) =
                    values[name] <- Tensor.ofData dims x
                    measure values output cotangent
                let mutable failed, maxAbs, maxRel, magnitude = 0, 0.0, 0.0, 0.0
                let mutable worst, worstExcess = None, Double.NegativeInfinity
                let x = Array.copy point
                for i in picked do
                    let h = options.Step * max 1.0 (abs point[i])
                    x[i] <- point[i] + h
                    let upper = x[i]
                    let fPlus, sPlus = at x
                    x[i] <- point[i] - h
                    let fMinus, sMinus = at x
                    let taken = upper - x[i]
                    x[i] <- point[i]
                    let fd = (fPlus - fMinus) / taken
                    let a = analytic[i]
                    let allowed = options.AbsoluteTolerance + options.RelativeTolerance * abs fd + options.RoundingUlps * machineEpsilon * max sPlus sMinus / (taken / 2.0)
                    let error = abs (a - fd)
                    let relative = if error = 0.0 then 0.0 else error / max (abs a) (abs fd)
                    magnitude <- max magnitude (max (abs a) (abs fd))
                    maxAbs <- (if Double.IsNaN error || Double.IsNaN maxAbs then nan else max maxAbs error)
                    maxRel <- (if Double.IsNaN relative || Double.IsNaN maxRel then nan else max maxRel relative)
                    // Written so that NaN fails: no comparison with NaN is true.
                    let passes = error <= allowed
                    if not passes then failed <- failed + 1
                    let excess = if Double.IsNaN error then infinity else error - allowed
                    if worst.IsNone || excess > worstExcess then
                        worstExcess <- excess
                        let index = Array.zeroCreate dims.Length
                        let mutable rest = i
                        for d in dims.Length - 1 .. -1 .. 0 do
                            index[d] <- rest % dims[d]
                            rest <- rest / dims[d]
                        worst <- Some { Index = index; Analytic = a; FiniteDifference = fd; Allowed = allowed }
                    done' <- done' + 1
                    options.Progress |> Option.iter (fun report -> report done' total)
                values[name] <- bound
                { Name = name; Elements = point.Length; Checked = picked.Length; Failed = failed
                  MaxAbsError = maxAbs; MaxRelError = maxRel; Worst = worst; MaxMagnitude = magnitude }) plan analytic
        { Method = method; Inputs = results; Options = options }

    /// First order: the gradient of a scalar output, the vjp with a seeded random cotangent of any other.
    let check (options: GradCheckOptions) (bindings: IReadOnlyDictionary<string, Tensor>) (output: Node) (wrt: Node list) =
        requireFloat64 "the output" output
        if output.Shape.Rank = 0 then compare options "gradient" bindings output None wrt
        else
            let r = Tensor.randn options.Seed (output.Shape.ToArray())
            compare options (sprintf "vjp with a random cotangent (seed %d)" options.Seed) bindings output (Some r) wrt

    /// Second order: G = Σₖ Σ vjpₖ · sₖ with seeded random sₖ (the first-order derivatives, weighted), and
    /// G's gradient against central differences of G: the derivative of the derivative rules.
    let checkSecondOrder (options: GradCheckOptions) (bindings: IReadOnlyDictionary<string, Tensor>) (output: Node) (wrt: Node list) =
        requireFloat64 "the output" output
        let first =
            if output.Shape.Rank = 0 then Reverse.grad output wrt
            else Reverse.vjp [ output ] [ Rules.constant (Tensor.randn options.Seed (output.Shape.ToArray())) ] wrt
        // The terms of G as one vector summed with unit weights, so the rounding allowance covers the
        // terms' magnitudes, not only |G|.
        let terms =
            first |> List.mapi (fun k d ->
                let s = Rules.constant (Tensor.randn (options.Seed + 1 + k) (d.Shape.ToArray()))
                Primitives.Structural.reshape [| d.Shape.Size |] (Primitives.Arithmetic.mul d s))
        match terms with
        | [] -> { Method = "second order"; Inputs = []; Options = options }
        | _ ->
            let g = Rules.apply Primitives.Structural.concatP [] terms
            compare options "second order: the gradient of Σ (first derivative · seeded random weights)" bindings g (Some (Tensor.ones [ g.Shape.Size ])) wrt
