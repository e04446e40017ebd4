namespace FuncDiff;

using System;
using System.Collections.Generic;
using Microsoft.FSharp.Collections;
using CoreExpr = FuncDiff.Expressions.Expr;
using CoreTensor = FuncDiff.Tensors.Tensor;
using static FuncDiff.Interop;

public sealed partial class Expr
{
    /// <summary>The value of this expression, given tensors for its inputs by name, e.g. <c>y.Eval(("x", tx), ("w", tw))</c>.</summary>
    /// <param name="inputs">A tensor for each input the expression uses; extra inputs are ignored, a name given twice is an error.</param>
    /// <exception cref="InputException">An input is missing, given twice, or bound to a tensor of another shape or dtype; <see cref="InputException.InputName"/> names it.</exception>
    /// <exception cref="EvaluationException">Evaluation failed on the data, e.g. a gather index out of range.</exception>
    public Tensor Eval(params (string Name, Tensor Value)[] inputs) => Evaluation.Run(ListOf([Core]), Evaluation.Bind(inputs))[0];

    /// <summary>The value of this expression, given tensors for its inputs by name.</summary>
    /// <param name="inputs">A tensor for each input the expression uses; extra inputs are ignored.</param>
    /// <exception cref="InputException">An input is missing or bound to a tensor of another shape or dtype; <see cref="InputException.InputName"/> names it.</exception>
    /// <exception cref="EvaluationException">Evaluation failed on the data, e.g. a gather index out of range.</exception>
    public Tensor Eval(IReadOnlyDictionary<string, Tensor> inputs) => Evaluation.Run(ListOf([Core]), Evaluation.Bind(inputs))[0];

    /// <summary>
    /// The values of several expressions in one pass: a subexpression they share (a loss and its gradient, say)
    /// is computed once.
    /// </summary>
    /// <param name="outputs">The expressions to evaluate; the result has their order.</param>
    /// <param name="inputs">A tensor for each input the expressions use; extra inputs are ignored, a name given twice is an error.</param>
    /// <exception cref="InputException">An input is missing, given twice, or bound to a tensor of another shape or dtype.</exception>
    /// <exception cref="EvaluationException">Evaluation failed on the data.</exception>
    public static IReadOnlyList<Tensor> EvalMany(IEnumerable<Expr> outputs, params (string Name, Tensor Value)[] inputs) =>
        Evaluation.Run(CoresOf(outputs), Evaluation.Bind(inputs));

    /// <summary>The values of several expressions in one pass, sharing common subexpressions.</summary>
    /// <param name="outputs">The expressions to evaluate; the result has their order.</param>
    /// <param name="inputs">A tensor for each input the expressions use; extra inputs are ignored.</param>
    /// <exception cref="InputException">An input is missing or bound to a tensor of another shape or dtype.</exception>
    /// <exception cref="EvaluationException">Evaluation failed on the data.</exception>
    public static IReadOnlyList<Tensor> EvalMany(IEnumerable<Expr> outputs, IReadOnlyDictionary<string, Tensor> inputs) =>
        Evaluation.Run(CoresOf(outputs), Evaluation.Bind(inputs));

    /// <summary>
    /// Compiles expressions into a <see cref="Plan"/> to run many times, e.g. a loss and its gradients in a training
    /// loop. <see cref="EvalMany(IEnumerable{Expr}, IReadOnlyDictionary{string, Tensor})"/> already reuses plans
    /// through a cache; hold a plan to run it in a <see cref="Workspace"/> without allocating.
    /// </summary>
    /// <param name="outputs">The expressions to compute; results have their order.</param>
    public static Plan Compile(params IEnumerable<Expr> outputs) => new(Compilation.compile(CoresOf(outputs)));
}

internal static class Evaluation
{
    internal static FSharpList<Tuple<string, CoreTensor>> Bind((string Name, Tensor Value)[] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var bindings = new List<Tuple<string, CoreTensor>>(inputs.Length);
        foreach (var (name, value) in inputs)
        {
            ArgumentNullException.ThrowIfNull(name, nameof(inputs));
            // A name bound twice is refused by the core, which reads these bindings.
            bindings.Add(Tuple.Create(name, Bound(name, value)));
        }
        return ListModule.OfSeq(bindings);
    }

    internal static FSharpList<Tuple<string, CoreTensor>> Bind(IReadOnlyDictionary<string, Tensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var bindings = new List<Tuple<string, CoreTensor>>(inputs.Count);
        foreach (var (name, value) in inputs) bindings.Add(Tuple.Create(name, Bound(name, value)));
        return ListModule.OfSeq(bindings);
    }

    internal static Tensor[] Run(FSharpList<CoreExpr> outputs, FSharpList<Tuple<string, CoreTensor>> bindings)
    {
        var values = Functions.evalMany(bindings, outputs);
        var result = new Tensor[values.Length];
        var i = 0;
        foreach (var v in values) result[i++] = new Tensor(v);
        return result;
    }

    private static CoreTensor Bound(string name, Tensor? value) =>
        value?.Core ?? throw new InputException(name, $"input '{name}' is bound to null");
}
