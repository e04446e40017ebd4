module FuncDiff.Tests.Main

open Expecto

[<EntryPoint>]
let main argv = runTestsWithCLIArgs [] argv (testList "FuncDiff" [ ParserTests.tests ])
