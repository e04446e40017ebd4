module FuncDiff.Tests.Main

open Expecto

[<EntryPoint>]
let main argv =
    runTestsWithCLIArgs [] argv (
        testList "FuncDiff" [
            TensorTests.tests
            GradientProperties.tests
            ReferenceValues.tests
            SeedTests.tests
            GraphTests.tests
            ErrorTests.tests
            EdgeCaseTests.tests
            AllocationTests.tests
            KernelProperties.tests
            TrigTests.tests
            TanhTests.tests
            ExpTests.tests
            LogTests.tests
            SummationTests.tests
            MatMulTests.tests
            PlanTests.tests
            PreparedCallTests.tests
            TestingKitTests.tests
            AssemblyTests.tests
            ParserTests.tests
            LiteralTests.tests
            ClinicTests.tests
            CSharpFacadeTests.tests
            CliTests.tests
            DocsTests.tests
            ClinicCliTests.tests
        ])
