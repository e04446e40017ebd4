/// Properties of the compiled core that source review cannot see.
module FuncDiff.Tests.AssemblyTests

open System.Reflection
open System.Reflection.Emit
open Expecto

/// Every IL opcode by its encoding, to walk method bodies instruction by instruction.
let private opcodes =
    typeof<OpCodes>.GetFields(BindingFlags.Public ||| BindingFlags.Static)
    |> Array.map (fun f -> f.GetValue null :?> OpCode)
    |> Array.map (fun o -> uint16 o.Value, o)
    |> dict

let private operandSize (o: OpCode) (il: byte[]) (at: int) =
    match o.OperandType with
    | OperandType.InlineNone -> 0
    | OperandType.ShortInlineBrTarget | OperandType.ShortInlineI | OperandType.ShortInlineVar -> 1
    | OperandType.InlineVar -> 2
    | OperandType.InlineI8 | OperandType.InlineR -> 8
    | OperandType.InlineSwitch -> 4 + 4 * System.BitConverter.ToInt32(il, at)
    | _ -> 4

/// The methods of an assembly whose bodies contain the tail. prefix.
let private tailCalls (assembly: Assembly) =
    [ for t in assembly.GetTypes() do
          for m in t.GetMethods(BindingFlags.Public ||| BindingFlags.NonPublic ||| BindingFlags.Instance ||| BindingFlags.Static ||| BindingFlags.DeclaredOnly) do
              match m.GetMethodBody() with
              | null -> ()
              | body ->
                  let il = body.GetILAsByteArray()
                  let mutable at = 0
                  let mutable found = false
                  while at < il.Length do
                      let code, width = if il[at] = 0xFEuy then 0xFE00us ||| uint16 il[at + 1], 2 else uint16 il[at], 1
                      let o = opcodes[code]
                      if o = OpCodes.Tailcall then found <- true
                      at <- at + width + operandSize o il (at + width)
                  if found then sprintf "%s.%s" t.FullName m.Name ]

let tests =
    testList "Assembly" [
        test "the core makes no explicit tail calls" {
            // A tail call passing a Span through the runtime's tail-call helper can lose the array
            // under it when the GC moves it; the build turns tail calls off (Directory.Build.props).
            Expect.isEmpty (tailCalls typeof<FuncDiff.Expressions.Expr>.Assembly) "methods with tail. calls"
        }
        test "the walker finds tail calls where they exist" {
            // FSharp.Core is compiled with tail calls, so the check above can fail.
            Expect.isNonEmpty (tailCalls typeof<list<int>>.Assembly) "FSharp.Core has tail. calls"
        }
    ]
