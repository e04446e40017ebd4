/// Compiling and running C# source against the facade with Roslyn, as a new C# project would.
module FuncDiff.Tests.CSharpCompiler

open System
open System.IO
open Microsoft.CodeAnalysis
open Microsoft.CodeAnalysis.CSharp

let private references =
    lazy
        let platform = (AppContext.GetData "TRUSTED_PLATFORM_ASSEMBLIES" :?> string).Split Path.PathSeparator
        let ours = [| typeof<FuncDiff.Expr>.Assembly.Location; typeof<FuncDiff.FuncDiffException>.Assembly.Location |]
        Array.append platform ours
        |> Array.distinctBy Path.GetFileName
        |> Array.map (fun path -> MetadataReference.CreateFromFile path :> MetadataReference)

/// The usings `dotnet new console` turns on implicitly.
let private implicitUsings =
    CSharpSyntaxTree.ParseText("global using System;\nglobal using System.Collections.Generic;\nglobal using System.Linq;\n", CSharpParseOptions(LanguageVersion.Latest))

let private compilation (kind: OutputKind) (source: string) =
    let tree = CSharpSyntaxTree.ParseText(source, CSharpParseOptions(LanguageVersion.Latest))
    let trees = if kind = OutputKind.ConsoleApplication then [ implicitUsings; tree ] else [ tree ]
    let options = CSharpCompilationOptions(kind, nullableContextOptions = NullableContextOptions.Enable)
    CSharpCompilation.Create("Snippet", trees, references.Value, options)

/// The diagnostics (errors and warnings) from compiling one C# file against the facade, as C# 14 with
/// nullable annotations on, the way a new project does.
let compile (source: string) =
    (compilation OutputKind.DynamicallyLinkedLibrary source).GetDiagnostics()
    |> Seq.filter (fun d -> d.Severity >= DiagnosticSeverity.Warning)
    |> List.ofSeq

/// Stands in for System.Console in a compiled program: a type in the global namespace is found before
/// one brought in by a using directive, so the program's output is captured without touching the
/// console other tests write to.
let private capture =
    CSharpSyntaxTree.ParseText("""
static class Console
{
    public static readonly System.Text.StringBuilder Output = new();
    public static void WriteLine(object? value) => Output.Append(value).Append('\n');
    public static void WriteLine(string? value) => Output.Append(value).Append('\n');
}
""", CSharpParseOptions(LanguageVersion.Latest))

/// Compiles a console program (top-level statements and implicit usings allowed), runs it in this
/// process and returns what it wrote with Console.WriteLine; a compile error fails with the diagnostics.
let run (source: string) =
    use image = new MemoryStream()
    let result = (compilation OutputKind.ConsoleApplication source).AddSyntaxTrees(capture).Emit image
    if not result.Success then
        failwithf "the program does not compile:\n%s" (result.Diagnostics |> Seq.map string |> String.concat "\n")
    let assembly = Reflection.Assembly.Load(image.ToArray())
    let entry = assembly.EntryPoint
    entry.Invoke(null, (if entry.GetParameters().Length = 0 then [||] else [| box Array.empty<string> |])) |> ignore
    string (assembly.GetType("Console").GetField("Output").GetValue null)
