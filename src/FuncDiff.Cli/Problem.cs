namespace FuncDiff.Cli;

using System;
using System.Collections.Generic;
using System.Linq;

/// <summary>EXPR read over the inputs that <c>--at</c> binds: each binding declares an input of its tensor's shape and dtype.</summary>
internal sealed class Problem
{
    private readonly Dictionary<string, Expr> inputs;

    private Problem(Expr output, IReadOnlyList<Binding> bindings, Dictionary<string, Expr> inputs)
    {
        Output = output;
        Bindings = bindings;
        this.inputs = inputs;
        Values = bindings.ToDictionary(b => b.Name, b => b.Value).AsReadOnly();
    }

    /// <summary>EXPR as an expression.</summary>
    public Expr Output { get; }

    /// <summary>The bindings, in the order given.</summary>
    public IReadOnlyList<Binding> Bindings { get; }

    /// <summary>The bound tensors by name, as evaluation takes them.</summary>
    public IReadOnlyDictionary<string, Tensor> Values { get; }

    /// <summary>Declares an input per binding and parses <paramref name="text"/> over them.</summary>
    /// <param name="text">EXPR.</param>
    /// <param name="bindings">The bindings of <c>--at</c>.</param>
    /// <exception cref="CliException">A binding's name cannot name an input (kind binding).</exception>
    /// <exception cref="ParseException">EXPR is malformed or does not fit the inputs.</exception>
    public static Problem Parse(string text, IReadOnlyList<Binding> bindings)
    {
        var inputs = new Dictionary<string, Expr>(StringComparer.Ordinal);
        foreach (var (name, value) in bindings)
        {
            try
            {
                inputs[name] = Expr.Input(name, value.DType, [.. value.Shape]);
            }
            catch (ExprException e)
            {
                throw new CliException(ErrorKind.Binding, $"in --at, binding '{name}': {e.Message}");
            }
        }
        return new Problem(Expr.Parse(text, [.. bindings.Select(b => inputs[b.Name])]), bindings, inputs);
    }

    /// <summary>
    /// The inputs to differentiate with respect to, in the order named: those of <c>--wrt</c> (comma-separated,
    /// repeatable), or every floating-point input in the order bound.
    /// </summary>
    /// <param name="wrt">The values of <c>--wrt</c>; empty for the default.</param>
    /// <exception cref="CliException">A name is not bound by <c>--at</c> (kind input).</exception>
    public IReadOnlyList<(string Name, Expr Input)> Wrt(IReadOnlyList<string> wrt)
    {
        var names = wrt.SelectMany(w => w.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .Distinct(StringComparer.Ordinal)
            .ToList();
        if (names.Count == 0)
            return Bindings.Where(b => b.Value.DType is DType.Float64 or DType.Float32).Select(b => (b.Name, inputs[b.Name])).ToList();
        var result = new List<(string, Expr)>(names.Count);
        foreach (var name in names)
        {
            if (!inputs.TryGetValue(name, out var input))
            {
                var bound = Bindings.Count == 0 ? "--at binds no inputs" : "the inputs are " + string.Join(", ", Bindings.Select(b => b.Name));
                throw new CliException(ErrorKind.Input, $"--wrt names '{name}', which --at does not bind; {bound}");
            }
            result.Add((name, input));
        }
        return result;
    }
}
