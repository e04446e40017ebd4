namespace FuncDiff.Cli;

using System;

/// <summary>What went wrong, as the <c>kind</c> of a JSON error.</summary>
internal enum ErrorKind
{
    /// <summary>EXPR is not well formed.</summary>
    Parse,

    /// <summary>An operation in EXPR does not fit its operands' shapes or dtypes.</summary>
    Shape,

    /// <summary>A derivative that is not defined as asked: grad of a non-scalar, or with respect to a non-float input.</summary>
    Gradient,

    /// <summary>EXPR uses an input that <c>--at</c> does not bind, or <c>--wrt</c> names one it does not.</summary>
    Input,

    /// <summary>Evaluation failed on the data.</summary>
    Evaluation,

    /// <summary>The text of <c>--at</c> is malformed.</summary>
    Binding,

    /// <summary>The command line itself is wrong: an unknown command or option, a missing argument.</summary>
    Usage,

    /// <summary>A bug in funcdiff.</summary>
    Internal,
}

/// <summary>An error the user can fix, with the place in EXPR it is about when there is one.</summary>
internal sealed class CliException(ErrorKind kind, string message, int? line = null, int? column = null) : Exception(message)
{
    /// <summary>What went wrong.</summary>
    public ErrorKind Kind { get; } = kind;

    /// <summary>1-based line in EXPR, when the error has a place there.</summary>
    public int? Line { get; } = line;

    /// <summary>1-based column in EXPR, when the error has a place there.</summary>
    public int? Column { get; } = column;

    /// <summary>Where on the command line the error is, shown with a caret on stderr; null for EXPR's own <see cref="Line"/> and <see cref="Column"/>.</summary>
    public Place? Shown { get; init; }

    /// <summary>A hint for the human reader, printed after the message on stderr only.</summary>
    public string? Hint { get; init; }

    /// <summary>The user error an exception from FuncDiff stands for.</summary>
    /// <param name="error">An exception FuncDiff raised on purpose.</param>
    public static CliException From(FuncDiffException error) => error switch
    {
        // The parser keeps the cause: a well-formed EXPR that does not fit its inputs is not a syntax error.
        ParseException p => new CliException(p.InnerException switch
        {
            ExprException => ErrorKind.Shape,
            InputException => ErrorKind.Input,
            _ => ErrorKind.Parse,
        }, p.Reason, p.Line, p.Column),
        ExprException => new CliException(ErrorKind.Shape, error.Message),
        InputException => new CliException(ErrorKind.Input, error.Message),
        GradientException => new CliException(ErrorKind.Gradient, error.Message),
        _ => new CliException(ErrorKind.Evaluation, error.Message),
    };
}

/// <summary>The process exit codes, as <c>--help</c> and docs/cli.md state them.</summary>
internal static class ExitCode
{
    /// <summary>Success.</summary>
    public const int Ok = 0;

    /// <summary>A user error: EXPR, <c>--at</c> or <c>--wrt</c> is wrong (see the <c>kind</c>).</summary>
    public const int UserError = 1;

    /// <summary>Bad usage: unknown command or option, missing argument.</summary>
    public const int Usage = 2;

    /// <summary><c>check</c> ran and the derivatives disagree with finite differences.</summary>
    public const int CheckFailed = 3;

    /// <summary>A bug in funcdiff: the trace is printed so it can be reported.</summary>
    public const int InternalError = 70;
}
