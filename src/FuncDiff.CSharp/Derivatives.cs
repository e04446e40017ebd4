namespace FuncDiff;

using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using Microsoft.FSharp.Collections;
using CoreExpr = FuncDiff.Expressions.Expr;
using CoreTensor = FuncDiff.Tensors.Tensor;
using static FuncDiff.Interop;

public sealed partial class Expr
{
    /// <summary>
    /// The gradient of this scalar expression with respect to each of <paramref name="wrt"/>, as expressions:
    /// <c>var g = loss.Grad(w, b); g[w]</c>. Any node may be differentiated against (inputs, constants,
    /// intermediates); one the output does not depend on gets explicit zeros.
    /// </summary>
    /// <param name="wrt">The nodes to differentiate with respect to; float64 or float32.</param>
    /// <exception cref="GradientException">This expression is not a scalar (the message names its shape and points to <see cref="Jacobian"/> and <see cref="Vjp(Expr, Expr[])"/>; FuncDiff never sums for you), or a node of <paramref name="wrt"/> is not floating point.</exception>
    public Derivatives Grad(params Expr[] wrt) => Derivatives.Take("Grad", wrt, nodes => Functions.grad(nodes, Core));

    /// <summary>
    /// For each of <paramref name="wrt"/>, every partial derivative ∂this/∂w, with shape <c>this.Shape ++ w.Shape</c>.
    /// Costs one reverse pass per element of this expression; for a large output prefer <see cref="Vjp(Expr, Expr[])"/>.
    /// </summary>
    /// <param name="wrt">The nodes to differentiate with respect to; float64 or float32.</param>
    /// <exception cref="GradientException">A node of <paramref name="wrt"/> is not floating point.</exception>
    public Derivatives Jacobian(params Expr[] wrt) => Derivatives.Take("Jacobian", wrt, nodes => Functions.jacobian(nodes, Core));

    /// <summary>For each of <paramref name="wrt"/>, the Hessian block ∂²this/∂w² of this scalar expression, with shape <c>w.Shape ++ w.Shape</c>.</summary>
    /// <param name="wrt">The nodes to differentiate with respect to; float64 or float32.</param>
    /// <exception cref="GradientException">This expression is not a scalar, or a node of <paramref name="wrt"/> is not floating point.</exception>
    public Derivatives Hessian(params Expr[] wrt) => Derivatives.Take("Hessian", wrt, nodes => Functions.hessian(nodes, Core));

    /// <summary>The vector-Jacobian product (∂this/∂w)ᵀ · <paramref name="cotangent"/> for each of <paramref name="wrt"/>, with w's shape.</summary>
    /// <param name="cotangent">An expression of this expression's shape and dtype.</param>
    /// <param name="wrt">The nodes to differentiate with respect to; float64 or float32.</param>
    /// <exception cref="GradientException">The cotangent's shape or dtype differs from this expression's, or a node of <paramref name="wrt"/> is not floating point.</exception>
    public Derivatives Vjp(Expr cotangent, params Expr[] wrt) =>
        Derivatives.Take("Vjp", wrt, nodes => Functions.vjp(nodes, ListOf([CoreOf(cotangent)]), ListOf([Core])));

    /// <summary>Σ over outputs of (∂output/∂w)ᵀ · cotangent, for each of <paramref name="wrt"/>.</summary>
    /// <param name="outputs">The outputs.</param>
    /// <param name="cotangents">One per output, of its shape and dtype.</param>
    /// <param name="wrt">The nodes to differentiate with respect to; float64 or float32.</param>
    /// <exception cref="GradientException">The counts or shapes of outputs and cotangents differ, or a node of <paramref name="wrt"/> is not floating point.</exception>
    public static Derivatives Vjp(IReadOnlyList<Expr> outputs, IReadOnlyList<Expr> cotangents, IReadOnlyList<Expr> wrt)
    {
        var outs = CoresOf(outputs);
        var cots = CoresOf(cotangents);
        return Derivatives.Take("Vjp", Copy(wrt), nodes => Functions.vjp(nodes, cots, outs));
    }
}

/// <summary>
/// Derivatives of one expression with respect to several nodes, looked up by node: <c>g[w]</c>. Each value is an
/// expression (so it can be differentiated again, printed, or evaluated together with others), in the order the
/// nodes were given; a node given twice appears once.
/// </summary>
/// <remarks>
/// As <see cref="IReadOnlyDictionary{TKey, TValue}"/> requires, looking up a node no derivative was taken with
/// respect to throws <see cref="KeyNotFoundException"/>; its message lists the nodes there are.
/// </remarks>
public sealed class Derivatives : IReadOnlyDictionary<Expr, Expr>
{
    private readonly string kind;
    private readonly Expr[] keys;
    private readonly Expr[] values;
    private readonly Dictionary<Expr, int> index;

    private Derivatives(string kind, Expr[] keys, Expr[] values)
    {
        this.kind = kind;
        this.keys = keys;
        this.values = values;
        index = new Dictionary<Expr, int>(keys.Length);
        for (var i = 0; i < keys.Length; i++) index[keys[i]] = i;
    }

    internal static Derivatives Take(string kind, Expr[] wrt, Func<FSharpList<CoreExpr>, FSharpList<CoreExpr>> derive)
    {
        ArgumentNullException.ThrowIfNull(wrt);
        var distinct = wrt.Distinct().ToArray();
        var results = derive(CoresOf(distinct, nameof(wrt)));
        return new Derivatives(kind, distinct, results.Select(r => new Expr(r)).ToArray());
    }

    /// <summary>The derivative with respect to <paramref name="wrt"/>.</summary>
    /// <param name="wrt">One of the nodes the derivatives were taken with respect to.</param>
    /// <exception cref="KeyNotFoundException">No derivative was taken with respect to <paramref name="wrt"/>.</exception>
    public Expr this[Expr wrt]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(wrt);
            if (index.TryGetValue(wrt, out var i)) return values[i];
            var taken = keys.Length == 0 ? "none" : string.Join(", ", keys.Select(k => k.ToString()));
            throw new KeyNotFoundException($"{kind} was not taken with respect to {wrt}; it was taken with respect to: {taken}");
        }
    }

    /// <summary>The nodes the derivatives were taken with respect to, in the order given.</summary>
    public IReadOnlyList<Expr> Keys => keys;

    /// <summary>The derivatives, in the order of <see cref="Keys"/>.</summary>
    public IReadOnlyList<Expr> Values => values;

    /// <summary>The number of nodes.</summary>
    public int Count => keys.Length;

    IEnumerable<Expr> IReadOnlyDictionary<Expr, Expr>.Keys => keys;

    IEnumerable<Expr> IReadOnlyDictionary<Expr, Expr>.Values => values;

    /// <summary>True when a derivative was taken with respect to <paramref name="key"/>.</summary>
    /// <param name="key">A node.</param>
    public bool ContainsKey(Expr key) => key is not null && index.ContainsKey(key);

    /// <summary>The derivative with respect to <paramref name="key"/>, if one was taken.</summary>
    /// <param name="key">A node.</param>
    /// <param name="value">The derivative, or null.</param>
    public bool TryGetValue(Expr key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out Expr value)
    {
        if (key is not null && index.TryGetValue(key, out var i))
        {
            value = values[i];
            return true;
        }
        value = null;
        return false;
    }

    /// <summary>The (node, derivative) pairs in the order given.</summary>
    public IEnumerator<KeyValuePair<Expr, Expr>> GetEnumerator()
    {
        for (var i = 0; i < keys.Length; i++) yield return new KeyValuePair<Expr, Expr>(keys[i], values[i]);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The two derivatives, for <c>var (gw, gb) = loss.Grad(w, b);</c>.</summary>
    /// <param name="first">The derivative with respect to the first node.</param>
    /// <param name="second">The derivative with respect to the second node.</param>
    /// <exception cref="FuncDiffException">There are not exactly two.</exception>
    public void Deconstruct(out Expr first, out Expr second)
    {
        Expect(2);
        (first, second) = (values[0], values[1]);
    }

    /// <summary>The three derivatives, for <c>var (ga, gb, gc) = loss.Grad(a, b, c);</c>.</summary>
    /// <param name="first">The derivative with respect to the first node.</param>
    /// <param name="second">The derivative with respect to the second node.</param>
    /// <param name="third">The derivative with respect to the third node.</param>
    /// <exception cref="FuncDiffException">There are not exactly three.</exception>
    public void Deconstruct(out Expr first, out Expr second, out Expr third)
    {
        Expect(3);
        (first, second, third) = (values[0], values[1], values[2]);
    }

    /// <summary>The values of every derivative in one pass, sharing the work they have in common, by node.</summary>
    /// <param name="inputs">A tensor for each input the derivatives use; a name given twice is an error.</param>
    /// <exception cref="InputException">An input is missing, given twice, or bound to a tensor of another shape or dtype.</exception>
    public IReadOnlyDictionary<Expr, Tensor> Eval(params (string Name, Tensor Value)[] inputs) => ByNode(Evaluation.Bind(inputs));

    /// <summary>The values of every derivative in one pass, sharing the work they have in common, by node.</summary>
    /// <param name="inputs">A tensor for each input the derivatives use.</param>
    /// <exception cref="InputException">An input is missing or bound to a tensor of another shape or dtype.</exception>
    public IReadOnlyDictionary<Expr, Tensor> Eval(IReadOnlyDictionary<string, Tensor> inputs) => ByNode(Evaluation.Bind(inputs));

    /// <summary>One line per node: <c>node: derivative</c>.</summary>
    public override string ToString() => string.Join(Environment.NewLine, keys.Select((k, i) => $"{k}: {values[i]}"));

    private IReadOnlyDictionary<Expr, Tensor> ByNode(FSharpList<Tuple<string, CoreTensor>> bindings)
    {
        var tensors = Evaluation.Run(CoresOf(values), bindings);
        var result = new Dictionary<Expr, Tensor>(keys.Length);
        for (var i = 0; i < keys.Length; i++) result[keys[i]] = tensors[i];
        return result.AsReadOnly();
    }

    private void Expect(int count)
    {
        if (keys.Length != count)
            throw new FuncDiffException($"cannot deconstruct {kind} results into {count} variables: there are {keys.Length}");
    }
}
