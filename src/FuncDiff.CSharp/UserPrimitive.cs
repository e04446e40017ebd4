namespace FuncDiff;

using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using CoreDerivative = FuncDiff.UserPrimitives.Derivative;
using CoreExpr = FuncDiff.Expressions.Expr;
using CorePrimitive = FuncDiff.UserPrimitives.Primitive;
using CoreShape = FuncDiff.Shapes.Shape;
using CoreTensor = FuncDiff.Tensors.Tensor;
using CoreUserPrimitive = FuncDiff.UserPrimitives.UserPrimitive;
using CoreDType = FuncDiff.ElementTypes.DType;
using static FuncDiff.Interop;

/// <summary>
/// Primitives defined by a program: a name, a shape rule, a forward kernel and a derivative rule written with
/// expressions. They print, parse (by name), differentiate to any order and are checked like built-ins.
/// </summary>
/// <remarks>
/// There is no way to define one without saying how it is differentiated: <see cref="Define"/> takes the
/// vector-Jacobian product; <see cref="DefinePiecewiseConstant"/> and <see cref="DefineNonDifferentiable"/> declare
/// an exact zero derivative and keep the reason. Names are process-wide and defined once.
/// </remarks>
public static class Primitive
{
    /// <summary>Defines a differentiable primitive.</summary>
    /// <param name="name">An identifier no primitive has yet; it prints and parses as <c>name(a, b)</c>.</param>
    /// <param name="doc">What it computes, for the catalogue.</param>
    /// <param name="inputs">The inputs' names.</param>
    /// <param name="shapeRule">The output's type from the inputs' (throw with a message to refuse them); <see cref="Elementwise"/> for elementwise maps.</param>
    /// <param name="forward">The output tensor from the input tensors.</param>
    /// <param name="vjp">One cotangent expression per input, of its shape and dtype (null where none flows), from the output's cotangent.</param>
    /// <exception cref="ExprException">The name is taken or not an identifier.</exception>
    public static UserPrimitive Define(string name, string doc, IReadOnlyList<string> inputs, Func<IReadOnlyList<ExprType>, ExprType> shapeRule,
        Func<IReadOnlyList<Tensor>, Tensor> forward, Func<VjpContext, IReadOnlyList<Expr?>> vjp)
    {
        ArgumentNullException.ThrowIfNull(vjp);
        var rule = FuncConvert.FromFunc((FuncDiff.UserPrimitives.VjpContext v) =>
        {
            var slots = vjp(new VjpContext(new Expr(v.Cotangent), new Expr(v.Output), v.Inputs.Select(i => new Expr(i)).ToArray()))
                ?? throw new GradientException($"{name}: the derivative rule returned null");
            return ListOf(slots.Select(s => s is null ? null : Some(s.Core)));
        });
        return Make(name, doc, inputs, shapeRule, forward, CoreDerivative.NewVjp(rule));
    }

    /// <summary>Defines a primitive that is constant between jumps (a step, a rounding): its derivative is exactly zero.</summary>
    /// <param name="name">An identifier no primitive has yet.</param>
    /// <param name="doc">What it computes.</param>
    /// <param name="inputs">The inputs' names.</param>
    /// <param name="shapeRule">The output's type from the inputs'.</param>
    /// <param name="forward">The output tensor from the input tensors.</param>
    public static UserPrimitive DefinePiecewiseConstant(string name, string doc, IReadOnlyList<string> inputs, Func<IReadOnlyList<ExprType>, ExprType> shapeRule,
        Func<IReadOnlyList<Tensor>, Tensor> forward) => Make(name, doc, inputs, shapeRule, forward, CoreDerivative.PiecewiseConstant);

    /// <summary>Defines a primitive with no derivative: the gradient through it is an explicit zero, and <paramref name="reason"/> is kept.</summary>
    /// <param name="name">An identifier no primitive has yet.</param>
    /// <param name="doc">What it computes.</param>
    /// <param name="inputs">The inputs' names.</param>
    /// <param name="shapeRule">The output's type from the inputs'.</param>
    /// <param name="forward">The output tensor from the input tensors.</param>
    /// <param name="reason">Why it has no derivative.</param>
    public static UserPrimitive DefineNonDifferentiable(string name, string doc, IReadOnlyList<string> inputs, Func<IReadOnlyList<ExprType>, ExprType> shapeRule,
        Func<IReadOnlyList<Tensor>, Tensor> forward, string reason) =>
        Make(name, doc, inputs, shapeRule, forward, CoreDerivative.NewNonDifferentiable(reason ?? throw new ArgumentNullException(nameof(reason))));

    /// <summary>The shape rule of an elementwise map: float inputs of one dtype, broadcast together.</summary>
    /// <param name="inputs">The inputs' types.</param>
    public static ExprType Elementwise(IReadOnlyList<ExprType> inputs)
    {
        var (shape, dtype) = CorePrimitive.elementwise(Types(Copy(inputs)));
        return new ExprType(shape.ToArray(), Interop.FromCore(dtype));
    }

    private static FSharpList<Tuple<CoreShape, CoreDType>> Types(IEnumerable<ExprType> types) =>
        ListOf(types.Select(t => Tuple.Create(CoreShape.Of(t.Shape), t.DType.ToCore())));

    private static UserPrimitive Make(string name, string doc, IReadOnlyList<string> inputs, Func<IReadOnlyList<ExprType>, ExprType> shapeRule,
        Func<IReadOnlyList<Tensor>, Tensor> forward, CoreDerivative derivative)
    {
        ArgumentNullException.ThrowIfNull(shapeRule);
        ArgumentNullException.ThrowIfNull(forward);
        var infer = FuncConvert.FromFunc((FSharpList<Tuple<CoreShape, CoreDType>> types) =>
        {
            var result = shapeRule(types.Select(t => new ExprType(t.Item1.ToArray(), Interop.FromCore(t.Item2))).ToArray());
            return Tuple.Create(CoreShape.Of(result.Shape ?? throw new ExprException($"{name}: the shape rule returned no shape")), result.DType.ToCore());
        });
        var kernel = FuncConvert.FromFunc((FSharpList<CoreTensor> tensors) =>
            forward(tensors.Select(t => new Tensor(t)).ToArray())?.Core!);
        return new UserPrimitive(CorePrimitive.define(name, doc ?? "", ListOf(Copy(inputs)), infer, kernel, derivative));
    }
}

/// <summary>A primitive defined with <see cref="Primitive"/>: apply it to expressions like a built-in.</summary>
public sealed class UserPrimitive
{
    internal UserPrimitive(CoreUserPrimitive core) => Core = core;

    internal CoreUserPrimitive Core { get; }

    /// <summary>The name it prints and parses as.</summary>
    public string Name => Core.Name;

    /// <summary>Applies the primitive; its shape rule runs now.</summary>
    /// <param name="inputs">One expression per input.</param>
    /// <exception cref="ExprException">The shape rule refused the inputs; the message starts with the name.</exception>
    public Expr Apply(params Expr[] inputs) => new(Core.Apply(CoresOf(inputs)));

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>The type of an expression: its shape and dtype.</summary>
/// <param name="Shape">The dimensions.</param>
/// <param name="DType">The element type.</param>
public readonly record struct ExprType(IReadOnlyList<int> Shape, DType DType);

/// <summary>What a derivative rule receives: the output's cotangent, the output and the inputs, as expressions.</summary>
/// <param name="Cotangent">The cotangent of the output (its shape and dtype).</param>
/// <param name="Output">The output, for rules that reuse it.</param>
/// <param name="Inputs">The inputs, in order.</param>
public sealed record VjpContext(Expr Cotangent, Expr Output, IReadOnlyList<Expr> Inputs);
