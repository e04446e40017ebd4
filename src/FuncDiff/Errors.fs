namespace FuncDiff

open System

/// Base class of every error FuncDiff raises on purpose. Messages name the operation, the shapes,
/// the dtypes and the input involved, so they can be shown to a user as they are.
type FuncDiffException(message: string, inner: exn) =
    inherit Exception(message, inner)
    new(message: string) = FuncDiffException(message, null)

/// An expression could not be built: incompatible shapes or dtypes, a wrong number of inputs or a
/// bad attribute (an axis out of range, a negative size). Raised at construction, before anything runs.
type ExprException(message: string) =
    inherit FuncDiffException(message)

/// Evaluation was given inputs that do not fit the expression: an input is missing, or bound to a
/// tensor of the wrong shape or dtype. <see cref="InputName"/> names the input.
type InputException(inputName: string, message: string) =
    inherit FuncDiffException(message)
    /// The name of the input the error is about.
    member _.InputName = inputName

/// A derivative was asked for that is not defined as asked: the gradient of a non-scalar output,
/// or a derivative with respect to a node that is not floating point.
type GradientException(message: string) =
    inherit FuncDiffException(message)

/// Evaluation failed on data-dependent grounds, for example a gather index out of range, an int32
/// result that does not fit in int32, or a tensor too large for the memory there is. The message
/// starts with the operation's name; InnerException keeps the cause a kernel raised, if any.
type EvaluationException(message: string, inner: exn) =
    inherit FuncDiffException(message, inner)
    new(message: string) = EvaluationException(message, null)

/// Text could not be parsed as an expression. <see cref="Line"/> and <see cref="Column"/> are 1-based
/// and point at the offending token; the message starts with "line:column:". InnerException tells a
/// well-formed text that cannot be built from a malformed one: it is the ExprException when an
/// operation's shapes, dtypes or arity do not fit, the InputException (naming it) when the text uses an
/// input that was not declared, and null for a syntax error.
type ParseException(message: string, line: int, column: int, inner: exn) =
    inherit FuncDiffException(sprintf "%d:%d: %s" line column message, inner)
    new(message: string, line: int, column: int) = ParseException(message, line, column, null)
    /// 1-based line of the offending token.
    member _.Line = line
    /// 1-based column of the offending token.
    member _.Column = column
    /// The message without the position prefix.
    member _.Reason = message
