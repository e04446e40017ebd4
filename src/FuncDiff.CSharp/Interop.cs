namespace FuncDiff;

using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using CoreDType = FuncDiff.ElementTypes.DType;
using CoreExpr = FuncDiff.Expressions.Expr;

// The one place that speaks FSharp.Core: everything public takes and returns .NET types only.
internal static class Interop
{
    internal static CoreDType ToCore(this DType dtype) => dtype switch
    {
        DType.Float64 => CoreDType.Float64,
        DType.Float32 => CoreDType.Float32,
        DType.Bool => CoreDType.Bool,
        DType.Int32 => CoreDType.Int32,
        _ => throw new FuncDiffException($"{(int)dtype} is not a DType (Float64, Float32, Bool or Int32)"),
    };

    internal static DType FromCore(CoreDType dtype) => dtype.Tag switch
    {
        CoreDType.Tags.Float64 => DType.Float64,
        CoreDType.Tags.Float32 => DType.Float32,
        CoreDType.Tags.Bool => DType.Bool,
        _ => DType.Int32,
    };

    internal static FSharpList<T> ListOf<T>(IEnumerable<T> items) => ListModule.OfSeq(items);

    // F# represents None as null; the core's optional arguments take these.
    internal static FSharpOption<T> Some<T>(T value) => FSharpOption<T>.Some(value);

    internal static FSharpOption<int>? Maybe(int? value) => value is { } v ? FSharpOption<int>.Some(v) : null;

    internal static CoreExpr CoreOf(Expr expr, [CallerArgumentExpression(nameof(expr))] string? name = null)
    {
        ArgumentNullException.ThrowIfNull(expr, name);
        return expr.Core;
    }

    internal static FSharpList<CoreExpr> CoresOf(IEnumerable<Expr> exprs, [CallerArgumentExpression(nameof(exprs))] string? name = null)
    {
        ArgumentNullException.ThrowIfNull(exprs, name);
        var cores = new List<CoreExpr>();
        foreach (var e in exprs)
        {
            if (e is null) throw new ArgumentNullException(name, $"{name} contains null");
            cores.Add(e.Core);
        }
        return ListModule.OfSeq(cores);
    }

    internal static T[] Copy<T>(IReadOnlyList<T> items, [CallerArgumentExpression(nameof(items))] string? name = null)
    {
        ArgumentNullException.ThrowIfNull(items, name);
        var copy = new T[items.Count];
        for (var i = 0; i < copy.Length; i++) copy[i] = items[i];
        return copy;
    }
}
