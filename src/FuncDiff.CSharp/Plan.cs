namespace FuncDiff;

using System;
using System.Collections.Generic;
using System.Linq;
using CorePlan = FuncDiff.Compilation.Plan;
using CoreTensor = FuncDiff.Tensors.Tensor;
using CoreWorkspace = FuncDiff.Compilation.Workspace;
using static FuncDiff.Interop;

/// <summary>
/// Outputs compiled once and run many times: simplified exactly (constant folding; ×1, reshape-to-same-shape
/// and transpose-of-transpose removed), common subexpressions merged, scheduled with elementwise runs fused
/// into loops over SIMD registers or cache-sized blocks, and given buffers that are reused as soon as their
/// last reader has run. Values are bit-identical to <see cref="Expr.EvalMany(IEnumerable{Expr}, IReadOnlyDictionary{string, Tensor})"/>,
/// which itself runs through a cache of plans, and to the reference interpreter's, but for the sign and
/// payload of a NaN where two NaNs meet (the processor's pick). <see cref="Eval(IReadOnlyDictionary{string, Tensor})"/> is safe from several threads at once; a
/// <see cref="Workspace"/> serves one run at a time (a second thread running it meanwhile gets a
/// <see cref="FuncDiffException"/>), so give each thread its own.
/// </summary>
/// <example><code>
/// var plan = Expr.Compile([loss, .. loss.Grad(w, b).Values]);
/// var workspace = plan.CreateWorkspace().Bind("w", tw).Bind("b", tb);
/// IReadOnlyList&lt;Tensor&gt; values = plan.Run(workspace); // allocates nothing after the first run
/// </code></example>
public sealed class Plan
{
    internal Plan(CorePlan core) => Core = core;

    internal CorePlan Core { get; }

    /// <summary>The names of the inputs the plan reads.</summary>
    public IReadOnlyList<string> InputNames => [.. Core.Inputs.Select(i => i.Item1)];

    /// <summary>The inputs the plan reads, with their declared shapes and dtypes, in the order <see cref="InputNames"/> gives.</summary>
    public IReadOnlyList<(string Name, ExprType Type)> Inputs => [.. Core.Inputs.Select(i => (i.Item1, new ExprType(i.Item2, FromCore(i.Item3))))];

    /// <summary>How many kernel calls a run makes.</summary>
    public int Steps => Core.Steps;

    /// <summary>How many intermediate buffers a workspace holds (fewer than <see cref="Steps"/>: buffers are reused).</summary>
    public int Buffers => Core.Buffers;

    /// <summary>The outputs' values as tensors of their own, given tensors for the inputs by name.</summary>
    /// <param name="inputs">A tensor for each input the plan reads; extra inputs are ignored, a name given twice is an error.</param>
    /// <exception cref="InputException">An input is missing, given twice, or bound to a tensor of another shape or dtype.</exception>
    /// <exception cref="EvaluationException">Evaluation failed on the data.</exception>
    public IReadOnlyList<Tensor> Eval(params (string Name, Tensor Value)[] inputs) => Wrap(Core.Run(Evaluation.Bind(inputs)));

    /// <summary>The outputs' values as tensors of their own, given tensors for the inputs by name.</summary>
    /// <param name="inputs">A tensor for each input the plan reads; extra inputs are ignored.</param>
    /// <exception cref="InputException">An input is missing or bound to a tensor of another shape or dtype.</exception>
    /// <exception cref="EvaluationException">Evaluation failed on the data.</exception>
    public IReadOnlyList<Tensor> Eval(IReadOnlyDictionary<string, Tensor> inputs) => Wrap(Core.Run(Evaluation.Bind(inputs)));

    /// <summary>A new workspace: the memory of one run at a time. Give each thread its own.</summary>
    public Workspace CreateWorkspace() => new(Core.CreateWorkspace());

    /// <summary>
    /// Runs in the workspace on the tensors bound to it. The results (the list and its tensors) are the workspace's
    /// own, lent (<see cref="Tensor.IsLent"/>) and overwritten by its next run: <see cref="Tensor.Copy"/> what must
    /// outlive it (<see cref="Expr.Constant(Tensor)"/> copies one itself). After the first run with the same input
    /// tensors, a run allocates nothing on the managed heap. A result may be bound back as an input for the next run
    /// (the workspace copies it before the run overwrites it): a training loop that compiles its updated weights
    /// among the outputs and binds them back each step allocates nothing.
    /// </summary>
    /// <param name="workspace">A workspace this plan created.</param>
    /// <exception cref="InputException">An input is not bound, or bound to a tensor of another shape or dtype.</exception>
    /// <exception cref="EvaluationException">Evaluation failed on the data.</exception>
    /// <exception cref="FuncDiffException">Another plan created the workspace, or it is running already (on another
    /// thread, or in a call its own run made).</exception>
    public IReadOnlyList<Tensor> Run(Workspace workspace)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        return workspace.Wrap(Core.Run(workspace.Core));
    }

    /// <summary>The schedule, one step per line: each kernel call, and each fused group with its calls.</summary>
    public override string ToString() => Core.ToString();

    private static Tensor[] Wrap(IEnumerable<CoreTensor> values) => [.. values.Select(v => new Tensor(v))];
}

/// <summary>The memory of one run of a <see cref="Plan"/>, and the tensors bound to its inputs.</summary>
public sealed class Workspace
{
    private Tensor[] results = [];

    internal Workspace(CoreWorkspace core) => Core = core;

    internal CoreWorkspace Core { get; }

    /// <summary>The bytes its buffers hold.</summary>
    public long Bytes => Core.Bytes;

    /// <summary>
    /// Binds an input for the next runs; returns this workspace, so binds chain. The workspace keeps the tensor and
    /// reads its elements at each run: a result another workspace lent is read as that workspace's latest run left it
    /// (bind its <see cref="Tensor.Copy"/> to fix the values); a result of this workspace is copied before each run.
    /// </summary>
    /// <param name="name">An input the plan reads.</param>
    /// <param name="value">Its tensor, of the declared shape and dtype.</param>
    /// <exception cref="InputException">The plan reads no input of that name (the message suggests the closest one), or
    /// the tensor has another shape or dtype than the input's.</exception>
    /// <exception cref="FuncDiffException">The workspace is running on another thread.</exception>
    public Workspace Bind(string name, Tensor value)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(value);
        Core.Bind(name, value.Core);
        return this;
    }

    // The same wrappers while the core tensors are the same, so a run allocates nothing here either.
    internal IReadOnlyList<Tensor> Wrap(IReadOnlyList<CoreTensor> values)
    {
        if (results.Length != values.Count) results = new Tensor[values.Count];
        for (var i = 0; i < results.Length; i++)
            if (results[i] is null || !ReferenceEquals(results[i].Core, values[i])) results[i] = new Tensor(values[i]);
        return results;
    }
}
