/// The lexical rules shared by printing and parsing, so that one is the inverse of the other.
module internal FuncDiff.Core.Syntax

open System
open FuncDiff

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

let isIdentifierStart (c: char) = Char.IsLetter c || c = '_'
let isIdentifierPart (c: char) = Char.IsLetterOrDigit c || c = '_'

/// True for a name the language can write as an identifier.
let isIdentifier (s: string) =
    not (String.IsNullOrEmpty s) && isIdentifierStart s[0] && Seq.forall isIdentifierPart s
