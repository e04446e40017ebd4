/// The lexical rules shared by printing and parsing, so that one is the inverse of the other.
module internal FuncDiff.Core.Syntax

open System
open FuncDiff
open FuncDiff.Core.Primitives

/// Words that are never input names.
let reserved = set [ "let"; "in"; "true"; "false"; "nan"; "inf" ]

/// Binding strength of atoms (names, literals, calls, parenthesised expressions).
let atomic = 10

/// Binding strength of unary minus (and of a negative literal).
let unary = 4

/// Right-associative infix symbols; the others associate to the left, except comparisons (none).
let rightAssociative (symbol: string) = symbol = "^"

/// Comparisons do not chain: a < b < c must be written with parentheses.
let comparisonPrecedence = 1

/// The sign of a negative number: '-' written directly before a number (or nan, inf) is part of the
/// literal, so -2 is the constant -2 while -(2) is neg(2). Such a literal binds like unary minus:
/// -2 ^ x is -(2 ^ x).
let minus = "-"

/// The deepest nesting the parser reads (each level is a parenthesis, a call, an operand of an
/// operator or a bracket of a tensor literal); deeper text is an error, never a stack overflow.
let maxNesting = 1000

/// The printer names a subexpression with `let` once its text would nest this deep, so that every
/// printed expression, however deep, parses back within maxNesting (a tree level costs the parser
/// at most two levels: a parenthesis and an operand).
let printedNesting = maxNesting / 4

/// The applications the parser folds into one constant when their argument is a literal written
/// directly (not in parentheses): the printer writes constants that a bare literal cannot express
/// that way (another dtype: cast(2, dtype=float32); an empty shape other than [0]:
/// reshape([], shape=[2, 0])), and puts the constant argument of a real cast or reshape in
/// parentheses so that it stays an application.
let literalCast = Logic.castP

/// See literalCast.
let literalReshape = Structural.reshapeP

/// True for literalCast and literalReshape.
let foldsLiteral (p: Primitive) =
    obj.ReferenceEquals(p, literalCast) || obj.ReferenceEquals(p, literalReshape)

let isIdentifierStart (c: char) = Char.IsLetter c || c = '_'
let isIdentifierPart (c: char) = Char.IsLetterOrDigit c || c = '_'

/// True for a name the language can write as an identifier.
let isIdentifier (s: string) =
    not (String.IsNullOrEmpty s) && isIdentifierStart s[0] && Seq.forall isIdentifierPart s
