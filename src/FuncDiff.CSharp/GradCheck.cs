namespace FuncDiff;

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.FSharp.Core;
using CoreChecks = FuncDiff.Checking.GradCheck;
using CoreDomain = FuncDiff.GradCheckReports.Domain;
using CoreOptions = FuncDiff.GradCheckReports.GradCheckOptions;
using CoreReport = FuncDiff.GradCheckReports.GradCheckReport;
using static FuncDiff.Interop;

/// <summary>
/// Derivatives against central finite differences in float64, under the one rule the library, its command line
/// and its own tests use: <c>GradCheck.Check(loss, at, w, b).ThrowIfFailed()</c> in a test.
/// </summary>
/// <remarks>
/// A scalar output is checked through its gradient, any other through the vector-Jacobian product with a seeded
/// random cotangent, so nothing is summed for you. Element i of an input x is moved by
/// h = <see cref="GradCheckOptions.Step"/>·max(1, |xᵢ|) and passes when
/// |analytic − fd| ≤ atol + rtol·|fd| + ulps·ε·S/h, S being the magnitude of the terms of the checked function
/// (rounding in f(x ± h) is magnified by 1/h). NaN never passes.
/// </remarks>
public static class GradCheck
{
    /// <summary>Compares the derivative of <paramref name="output"/> with respect to each of <paramref name="wrt"/> at <paramref name="at"/>.</summary>
    /// <param name="output">A float64 expression.</param>
    /// <param name="at">A tensor for each input of <paramref name="output"/>, by name.</param>
    /// <param name="wrt">The float64 inputs to check.</param>
    /// <exception cref="GradientException">An input of <paramref name="wrt"/> or the output is not float64, or a node of <paramref name="wrt"/> is not an input.</exception>
    public static GradCheckReport Check(Expr output, IReadOnlyDictionary<string, Tensor> at, params Expr[] wrt) => Check(output, at, wrt, null);

    /// <summary>As <see cref="Check(Expr, IReadOnlyDictionary{string, Tensor}, Expr[])"/>, with options.</summary>
    /// <param name="output">A float64 expression.</param>
    /// <param name="at">A tensor for each input of <paramref name="output"/>, by name.</param>
    /// <param name="wrt">The float64 inputs to check.</param>
    /// <param name="options">Tolerances, sample size, seed and progress; the defaults when null.</param>
    public static GradCheckReport Check(Expr output, IReadOnlyDictionary<string, Tensor> at, IReadOnlyList<Expr> wrt, GradCheckOptions? options) =>
        new(CoreChecks.checkWith(Core(options), Evaluation.Bind(at), CoresOf(wrt), CoreOf(output)));

    /// <summary>
    /// The second-order check: the gradient of Σ (first derivative · seeded random weights) against its central
    /// differences, which tests the derivative of every derivative rule on the way.
    /// </summary>
    /// <param name="output">A float64 expression.</param>
    /// <param name="at">A tensor for each input of <paramref name="output"/>, by name.</param>
    /// <param name="wrt">The float64 inputs to check.</param>
    /// <param name="options">Tolerances, sample size, seed and progress; the defaults when null.</param>
    public static GradCheckReport SecondOrder(Expr output, IReadOnlyDictionary<string, Tensor> at, IReadOnlyList<Expr> wrt, GradCheckOptions? options = null) =>
        new(CoreChecks.secondOrderWith(Core(options), Evaluation.Bind(at), CoresOf(wrt), CoreOf(output)));

    /// <summary>
    /// Checks a user-defined primitive's derivative rule, first and second order, at <paramref name="cases"/> sets of
    /// float64 inputs of the given shapes with values drawn from <paramref name="domain"/>: the first failing report,
    /// or the last one when all pass.
    /// </summary>
    /// <param name="primitive">The primitive.</param>
    /// <param name="domain">Where input values come from.</param>
    /// <param name="shapes">One shape per input.</param>
    /// <param name="cases">How many sets of inputs.</param>
    /// <param name="options">Tolerances and seed; the defaults (every element) when null.</param>
    public static GradCheckReport Primitive(UserPrimitive primitive, Domain domain, IReadOnlyList<int[]> shapes, int cases = 20, GradCheckOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(primitive);
        ArgumentNullException.ThrowIfNull(domain);
        var coreOptions = Core(options ?? new GradCheckOptions { Sample = null });
        var dims = ListOf(Copy(shapes).Select(s => ListOf(s ?? throw new ArgumentNullException(nameof(shapes)))));
        return new(CoreChecks.primitiveWith(coreOptions, cases, domain.Core, dims, primitive.Core));
    }

    internal static CoreOptions ToCore(GradCheckOptions options) => Core(options);

    private static CoreOptions Core(GradCheckOptions? options)
    {
        var o = options ?? new GradCheckOptions();
        var progress = o.Progress is { } report ? Some(FuncConvert.FromAction(report)) : null;
        return new CoreOptions(o.RelativeTolerance, o.AbsoluteTolerance, o.RoundingUlps, o.Step, Maybe(o.Sample), o.Seed, progress);
    }
}

/// <summary>How <see cref="GradCheck"/> compares; every property has the default stated on it.</summary>
public sealed record GradCheckOptions
{
    /// <summary>rtol; default 1e-6.</summary>
    public double RelativeTolerance { get; init; } = 1e-6;

    /// <summary>atol; default 1e-6.</summary>
    public double AbsoluteTolerance { get; init; } = 1e-6;

    /// <summary>How many machine epsilons of rounding per evaluation the rule allows for; default 100.</summary>
    public double RoundingUlps { get; init; } = 100;

    /// <summary>The relative step h/max(1, |x|); default 1e-6.</summary>
    public double Step { get; init; } = 1e-6;

    /// <summary>How many elements of each input to check (a seeded sample when it has more); null for all. Default 100.</summary>
    public int? Sample { get; init; } = 100;

    /// <summary>Seeds the sample and the random cotangent; default 0.</summary>
    public int Seed { get; init; }

    /// <summary>Called after each element with (elements done, elements to do); none by default.</summary>
    public Action<int, int>? Progress { get; init; }

    /// <summary>The rule an element must pass with these tolerances, as reports print it.</summary>
    public string Rule => GradCheck.ToCore(this).Rule;
}

/// <summary>The outcome of a gradient check: one <see cref="InputCheck"/> per input.</summary>
public sealed class GradCheckReport
{
    internal GradCheckReport(CoreReport core)
    {
        Method = core.Method;
        Ok = core.Ok;
        Inputs = core.Inputs.Select(i => new InputCheck(i)).ToArray();
        text = core.ToString();
    }

    private readonly string text;

    /// <summary>What was compared: the gradient, the vjp through a random cotangent, or the second-order form.</summary>
    public string Method { get; }

    /// <summary>True when every input passes.</summary>
    public bool Ok { get; }

    /// <summary>Per input, in the order given.</summary>
    public IReadOnlyList<InputCheck> Inputs { get; }

    /// <summary>Throws <see cref="GradCheckException"/>, whose message is this report, unless it passes.</summary>
    public void ThrowIfFailed()
    {
        if (!Ok) throw new GradCheckException(text);
    }

    /// <summary>A line per input, the worst element of a failing one, and the rule.</summary>
    public override string ToString() => text;
}

/// <summary>How one input's derivative compares with central differences.</summary>
public sealed class InputCheck
{
    internal InputCheck(FuncDiff.GradCheckReports.InputCheck core)
    {
        Name = core.Name;
        Elements = core.Elements;
        Checked = core.Checked;
        Failed = core.Failed;
        MaxAbsError = core.MaxAbsError;
        MaxRelError = core.MaxRelError;
        if (core.Worst is { } w) Worst = new CheckedElement(w.Value.Index, w.Value.Analytic, w.Value.FiniteDifference, w.Value.Allowed);
    }

    /// <summary>The input's name.</summary>
    public string Name { get; }

    /// <summary>Its number of elements.</summary>
    public int Elements { get; }

    /// <summary>How many were compared (all, or a seeded sample).</summary>
    public int Checked { get; }

    /// <summary>How many compared elements are outside the tolerance.</summary>
    public int Failed { get; }

    /// <summary>The largest |analytic − fd|; NaN when any compared element is NaN.</summary>
    public double MaxAbsError { get; }

    /// <summary>The largest |analytic − fd| / max(|analytic|, |fd|); NaN as above.</summary>
    public double MaxRelError { get; }

    /// <summary>True when every compared element is within the tolerance.</summary>
    public bool Ok => Failed == 0;

    /// <summary>The element furthest outside (or closest to) its tolerance; null when none was compared.</summary>
    public CheckedElement? Worst { get; }
}

/// <summary>One element of a derivative beside its central difference.</summary>
/// <param name="Index">Its position in the input.</param>
/// <param name="Analytic">The derivative's value.</param>
/// <param name="FiniteDifference">The central difference.</param>
/// <param name="Allowed">The error the rule allows here.</param>
public sealed record CheckedElement(IReadOnlyList<int> Index, double Analytic, double FiniteDifference, double Allowed);

/// <summary>Where generated input values come from when a derivative rule is checked.</summary>
public sealed class Domain
{
    private Domain(CoreDomain core) => Core = core;

    internal CoreDomain Core { get; }

    /// <summary>[-2, 2].</summary>
    public static Domain Any { get; } = new(CoreDomain.Any);

    /// <summary>[0.25, 3]: logarithms, square roots, reciprocals.</summary>
    public static Domain Positive { get; } = new(CoreDomain.Positive);

    /// <summary>±[0.25, 2]: away from the kinks of abs and relu and the pole of 1/x.</summary>
    public static Domain NonZero { get; } = new(CoreDomain.NonZero);

    /// <summary>k + [0.1, 0.4] or k + [0.6, 0.9]: away from the jumps of floor and round.</summary>
    public static Domain OffIntegers { get; } = new(CoreDomain.OffIntegers);

    /// <summary>Distinct values 0.25 apart within a tensor: no ties.</summary>
    public static Domain Distinct { get; } = new(CoreDomain.Distinct);

    /// <summary>[-2, 2] with exact zeros mixed in (one value in four): products and prod at zeros.</summary>
    public static Domain WithZeros { get; } = new(CoreDomain.WithZeros);

    /// <summary>[0, 2] with exact zeros mixed in: pow bases at 0.</summary>
    public static Domain NonNegative { get; } = new(CoreDomain.NonNegative);

    /// <summary><paramref name="offset"/> + 0.5k for an integer k in [-4, 4]: two lattices with different offsets never meet.</summary>
    /// <param name="offset">Where the lattice starts.</param>
    public static Domain Lattice(double offset) => new(CoreDomain.NewLattice(offset));

    /// <summary>The integers <paramref name="lo"/> to <paramref name="hi"/>.</summary>
    /// <param name="lo">The smallest.</param>
    /// <param name="hi">The largest.</param>
    public static Domain Integers(int lo, int hi) => new(CoreDomain.NewIntegers(lo, hi));

    /// <summary>[<paramref name="lo"/>, <paramref name="hi"/>].</summary>
    /// <param name="lo">The lower bound.</param>
    /// <param name="hi">The upper bound.</param>
    public static Domain Between(double lo, double hi) => new(CoreDomain.NewBetween(lo, hi));

    /// <inheritdoc/>
    public override string ToString() => Core.ToString();
}
