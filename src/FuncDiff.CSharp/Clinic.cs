namespace FuncDiff;

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.FSharp.Core;
using CoreCause = FuncDiff.GradientClinic.Cause;
using CoreCauseKind = FuncDiff.ClinicKinds.CauseKind;
using CoreSite = FuncDiff.Provenance.CreationSite;
using CoreStatus = FuncDiff.ClinicKinds.GradientStatus;
using static FuncDiff.Interop;

/// <summary>What a gradient looks like, as <see cref="Expr.Explain(IReadOnlyDictionary{string, Tensor}, Expr[])"/> reports it.</summary>
public enum GradientStatus
{
    /// <summary>Finite, no element exactly zero, not tiny.</summary>
    Ok,

    /// <summary>Every element is exactly 0.</summary>
    Zero,

    /// <summary>Some elements are exactly 0.</summary>
    PartlyZero,

    /// <summary>Every |gᵢ|·max|xⱼ| ≤ ε·|f| (max|xⱼ| taken as 1 when x is all zero): a step as large as the input changes the value by less than its rounding error. Relative: scaling the function or the input changes nothing.</summary>
    Tiny,

    /// <summary>Some element is NaN.</summary>
    NaN,

    /// <summary>Some element is ±∞ (none is NaN).</summary>
    Inf,
}

/// <summary>Why a gradient is zero, tiny, NaN or infinite; each kind has its own rule (docs/gradient-clinic.md).</summary>
public enum CauseKind
{
    /// <summary>The output does not depend on the input.</summary>
    Disconnected,

    /// <summary>Every path passes through stopGradient.</summary>
    StopGradient,

    /// <summary>Every path passes through a piecewise-constant operation or a cast to int32 or bool.</summary>
    PiecewiseConstant,

    /// <summary>relu, where, max, min, maximum, minimum, abs, gather or slice passes nothing to some elements.</summary>
    Masked,

    /// <summary>Several paths' contributions cancel.</summary>
    Cancellation,

    /// <summary>exp, expm1 or pow has a local derivative at most ε.</summary>
    Underflow,

    /// <summary>tanh, sigmoid or softplus has a local derivative at most ε.</summary>
    Saturation,

    /// <summary>The first node where NaN appears from NaN-free inputs, forward or backward.</summary>
    NanOrigin,

    /// <summary>The first node where ±∞ appears from finite inputs, forward or backward.</summary>
    InfOrigin,
}

/// <summary>Where a node was created: a position in parsed text, or a file and line of code (with creation-site capture on).</summary>
public sealed class CreationSite
{
    private readonly string text;

    internal CreationSite(CoreSite core)
    {
        text = core.ToString();
        if (core is CoreSite.Code code)
        {
            File = code.file.Length == 0 ? null : code.file;
            Line = code.line;
            Column = code.column;
            Caller = code.caller;
        }
        else if (core is CoreSite.Text t)
        {
            InText = true;
            Line = t.line;
            Column = t.column;
        }
    }

    /// <summary>True for a position in an expression's text.</summary>
    public bool InText { get; }

    /// <summary>The source file of the code, or null (parsed text, or no debug symbols).</summary>
    public string? File { get; }

    /// <summary>1-based line (0 when unknown).</summary>
    public int Line { get; }

    /// <summary>1-based column (0 when unknown).</summary>
    public int Column { get; }

    /// <summary>The calling method, for code sites.</summary>
    public string? Caller { get; }

    /// <summary>"1:5" in text; "Model.cs:12:9" in code.</summary>
    public override string ToString() => text;

    internal static CreationSite? From(FSharpOption<CoreSite>? site) => site is null ? null : new CreationSite(site.Value);
}

/// <summary>One cause of a gradient's status.</summary>
public sealed class Cause
{
    internal Cause(CoreCause core)
    {
        Kind = (CauseKind)core.Kind.Tag;
        KindName = core.Kind.Name;
        Node = new Expr(core.Node);
        NodeText = core.NodeText;
        Message = core.Message;
        Fraction = core.Fraction is null ? null : core.Fraction.Value;
        Site = CreationSite.From(core.Site);
    }

    /// <summary>What kind of cause.</summary>
    public CauseKind Kind { get; }

    /// <summary>The kind as the JSON writes it: "masked", "inf-origin", ….</summary>
    public string KindName { get; }

    /// <summary>The node the cause is about.</summary>
    public Expr Node { get; }

    /// <summary>The node as text, shortened when long.</summary>
    public string NodeText { get; }

    /// <summary>What happens there, in plain words.</summary>
    public string Message { get; }

    /// <summary>The share of elements affected, where that applies.</summary>
    public double? Fraction { get; }

    /// <summary>Where the node was created, if known.</summary>
    public CreationSite? Site { get; }

    /// <summary>"kind [site]: message".</summary>
    public override string ToString() => Site is null ? $"{KindName}: {Message}" : $"{KindName} [{Site}]: {Message}";
}

/// <summary>The status of the gradient with respect to one node, and its causes (none when <see cref="GradientStatus.Ok"/>).</summary>
public sealed class GradientDiagnosis
{
    internal GradientDiagnosis(GradientClinic.GradientDiagnosis core, Expr wrt)
    {
        Wrt = wrt;
        WrtText = core.WrtText;
        Status = (GradientStatus)core.Status.Tag;
        StatusName = core.Status.Name;
        Causes = core.Causes.Select(c => new Cause(c)).ToArray();
    }

    /// <summary>The node the gradient is taken with respect to.</summary>
    public Expr Wrt { get; }

    /// <summary>The node as text (an input's name).</summary>
    public string WrtText { get; }

    /// <summary>The status.</summary>
    public GradientStatus Status { get; }

    /// <summary>The status as the JSON writes it: "ok", "zero", "partly-zero", "tiny", "nan", "inf".</summary>
    public string StatusName { get; }

    /// <summary>The causes, in the order the rules found them.</summary>
    public IReadOnlyList<Cause> Causes { get; }
}

/// <summary>What <see cref="Expr.Explain(IReadOnlyDictionary{string, Tensor}, Expr[])"/> found.</summary>
public sealed class Explanation
{
    private readonly string report;

    internal Explanation(GradientClinic.Explanation core, Expr[] wrt)
    {
        report = core.Report;
        Value = new Tensor(core.Value);
        var gradients = new Dictionary<Expr, Tensor>();
        var i = 0;
        // No wrt asked for: the core diagnosed every floating-point input.
        if (wrt.Length == 0) wrt = [.. core.Diagnoses.Select(d => new Expr(d.Wrt))];
        foreach (var g in core.Gradients) gradients[wrt[i++]] = new Tensor(g);
        Gradients = gradients.AsReadOnly();
        Diagnostics = core.Diagnoses.Select((d, k) => new GradientDiagnosis(d, wrt[k])).ToArray();
    }

    /// <summary>The value of the expression.</summary>
    public Tensor Value { get; }

    /// <summary>The gradients, bit for bit those <see cref="Expr.Grad"/> gives, by node.</summary>
    public IReadOnlyDictionary<Expr, Tensor> Gradients { get; }

    /// <summary>One diagnosis per node, in the order given.</summary>
    public IReadOnlyList<GradientDiagnosis> Diagnostics { get; }

    /// <summary>One paragraph per node: its status, then one line per cause.</summary>
    public override string ToString() => report;
}

public sealed partial class Expr
{
    /// <summary>
    /// The value of this scalar expression, its gradients with respect to <paramref name="wrt"/>, and for each a status
    /// and (unless it is ok) its causes: why the gradient is zero, partly zero, tiny, NaN or infinite.
    /// <c>Console.WriteLine(loss.Explain(at, w, b));</c>
    /// </summary>
    /// <param name="at">A tensor for each input, by name.</param>
    /// <param name="wrt">The nodes to diagnose the gradient with respect to; none: every floating-point input of this expression (as <c>funcdiff explain</c> without --wrt).</param>
    /// <exception cref="GradientException">This expression is not a scalar, or a node of <paramref name="wrt"/> is not floating point.</exception>
    /// <exception cref="InputException">An input is missing or bound to a tensor of another shape or dtype.</exception>
    public Explanation Explain(IReadOnlyDictionary<string, Tensor> at, params Expr[] wrt)
    {
        ArgumentNullException.ThrowIfNull(wrt);
        var bindings = at.ToDictionary(kv => kv.Key, kv => kv.Value.Core).AsReadOnly();
        return new Explanation(GradientClinic.explainWith(bindings, CoresOf(wrt), Core), wrt);
    }

    /// <summary>As <see cref="Explain(IReadOnlyDictionary{string, Tensor}, Expr[])"/>, with the inputs as (name, tensor) pairs.</summary>
    /// <param name="at">A tensor for each input, by name; a name given twice is an error.</param>
    /// <param name="wrt">The nodes to diagnose the gradient with respect to.</param>
    public Explanation Explain((string Name, Tensor Value)[] at, params Expr[] wrt) => Explain(Pairs(at), wrt);

    /// <summary>
    /// The value of this expression, stopping at the first node whose value holds a NaN or ±∞ with a
    /// <see cref="NonFiniteException"/> naming the node, where it was created, the element and its inputs' values there.
    /// </summary>
    /// <param name="at">A tensor for each input, by name.</param>
    public Tensor EvalChecked(IReadOnlyDictionary<string, Tensor> at) =>
        new(GradientClinic.evalChecked(Evaluation.Bind(at), Core));

    /// <summary>
    /// The value of this scalar expression and its gradients, checked forward and backward: the first NaN or ±∞ raises
    /// <see cref="NonFiniteException"/>; in the backward pass it names the step of the derivative rule and the forward node.
    /// </summary>
    /// <param name="at">A tensor for each input, by name.</param>
    /// <param name="wrt">The nodes to differentiate with respect to.</param>
    public (Tensor Value, IReadOnlyDictionary<Expr, Tensor> Gradients) GradChecked(IReadOnlyDictionary<string, Tensor> at, params Expr[] wrt)
    {
        ArgumentNullException.ThrowIfNull(wrt);
        var result = GradientClinic.gradChecked(Evaluation.Bind(at), CoresOf(wrt), Core);
        var gradients = new Dictionary<Expr, Tensor>();
        var i = 0;
        foreach (var g in result.Item2) gradients[wrt[i++]] = new Tensor(g);
        return (new Tensor(result.Item1), gradients.AsReadOnly());
    }

    /// <summary>
    /// The graph of this expression in Graphviz's DOT language (<c>dot -Tsvg</c> draws it): nodes labelled with op, shape
    /// and dtype, long single-use chains drawn as one node.
    /// </summary>
    /// <param name="gradient">Also draw the gradient graph (boxes) with respect to <paramref name="wrt"/>.</param>
    /// <param name="explainAt">Draw the diagnosis at these inputs: nodes with causes bordered and labelled with them, non-finite values in red, zero paths dashed.</param>
    /// <param name="wrt">The nodes to differentiate with respect to (default: every floating-point input).</param>
    /// <param name="maxNodes">Nodes drawn at most.</param>
    public string ToDot(bool gradient = false, IReadOnlyDictionary<string, Tensor>? explainAt = null, IReadOnlyList<Expr>? wrt = null, int maxNodes = 300)
    {
        var options = new GradientClinic.Graphviz.Options(
            gradient,
            explainAt is null ? null : FSharpOption<IReadOnlyDictionary<string, FuncDiff.Tensors.Tensor>>.Some(
                explainAt.ToDictionary(kv => kv.Key, kv => kv.Value.Core).AsReadOnly()),
            wrt is null ? ListOf(Array.Empty<FuncDiff.Expressions.Expr>()) : CoresOf(wrt),
            maxNodes);
        return GradientClinic.Graphviz.render(options, Core);
    }

    /// <summary>
    /// Records where expressions are created until disposed: <c>using (Expr.RecordCreationSites()) { … }</c>. Each node an
    /// operation builds inside the scope (on this thread and the async work it starts) keeps the first stack frame outside
    /// FuncDiff, which <see cref="Explain(IReadOnlyDictionary{string, Tensor}, Expr[])"/> and checked evaluation name. It
    /// costs a stack walk per node built, and nothing outside the scope.
    /// </summary>
    public static IDisposable RecordCreationSites() => GradientClinic.CreationSites.enable();

    /// <summary>Where this expression was created, if recorded (parsed text always records positions).</summary>
    public CreationSite? CreationSite => FuncDiff.CreationSite.From(GradientClinic.CreationSites.tryFind(Core));

    private static Dictionary<string, Tensor> Pairs((string Name, Tensor Value)[] at)
    {
        ArgumentNullException.ThrowIfNull(at);
        var d = new Dictionary<string, Tensor>();
        foreach (var (name, value) in at)
        {
            if (!d.TryAdd(name, value)) throw new InputException(name, $"input '{name}' is bound twice");
        }
        return d;
    }
}
