namespace FuncDiff.Cli;

using System;
using System.Collections.Generic;
using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Numerics;

/// <summary>
/// <c>funcdiff</c>: evaluate an expression and its derivatives at a point, and check them against finite differences.
/// Built on the C# facade only, which it thereby shows to be complete.
/// </summary>
internal static class Program
{
    private const string BindingsHelp = """
        Bindings (--at): name=value separated by ';', e.g. --at "x=[1,2,3,4]; w=0.5; b=true".
          A value is a tensor literal as EXPR writes constants: a number (2, -0.5, 1e-3, nan, inf,
          -inf), true or false, or a rectangular nested-bracket literal of either ([[1,2],[3,4]],
          [] is shape [0]); or randn(dims...), zeros(dims...), ones(dims...) (no dims: a scalar);
          or @FILE, one tensor from a NumPy .npy file (float64, float32, int32 or bool, C order) or a
          JSON file {"shape": [...], "dtype": "...", "data": [...]}. An item @FILE binds every name
          of a JSON object of such tensors, e.g. what --json printed. FILE - is standard input.
          Numbers are float64, or float32 with --dtype float32; true/false are bool; files keep
          their dtype. Each binding declares an input of its value's shape and dtype, and EXPR is
          read over those inputs. randn draws from a stream seeded by --seed and the input's name,
          so the same command prints the same numbers. --at may be repeated.
        """;

    // The exit codes, each with the commands it concerns (null: every command).
    private static readonly (string Line, Func<Command, bool>? Concerns)[] ExitCodes =
    [
        ("  0   success (for check: every derivative agrees with finite differences)", null),
        ("  1   user error: EXPR, --at or --wrt is wrong; the message is on stderr", ReadsBindings),
        ("  2   bad usage: unknown command or option, a missing or invalid argument", null),
        ("  3   check ran and a derivative disagrees with finite differences (the report says where)", c => c.Name == "check"),
        ("  70  internal error in funcdiff (a bug: the trace is printed to report it)", null),
    ];

    private static bool ReadsBindings(Command command) => command is RootCommand || command.Options.Any(o => o.Name == "--at");

    private static int Main(string[] args) => Run(args, Console.Out, Console.Error, Console.OpenStandardInput);

    /// <summary>Parses <paramref name="args"/>, runs the command and returns the exit code.</summary>
    /// <param name="args">The command line.</param>
    /// <param name="output">Where results go.</param>
    /// <param name="error">Where messages for the user go.</param>
    /// <param name="input">Opens standard input, for <c>@-</c> in <c>--at</c>.</param>
    public static int Run(string[] args, TextWriter output, TextWriter error, Func<Stream> input)
    {
        try
        {
            return Parsed(args, output, error, input);
        }
        catch (Exception e)
        {
            return Internal(e, args.Contains("--json"), output, error);
        }
    }

    // A bug: the trace on stderr to report it, and with --json the error object on stdout all the same.
    private static int Internal(Exception e, bool asJson, TextWriter output, TextWriter error)
    {
        error.WriteLine($"funcdiff: internal error, please report it with this trace:{Environment.NewLine}{e}");
        if (asJson)
        {
            var bug = new CliException(ErrorKind.Internal, $"internal error ({e.GetType().Name}): {e.Message}");
            output.WriteLine(Json.Of(w => Json.Error(w, bug)));
        }
        return ExitCode.InternalError;
    }

    private static int Parsed(string[] args, TextWriter output, TextWriter error, Func<Stream> input)
    {
        var root = Commands(output, error, input);
        foreach (var option in root.Options)
        {
            if (option is HelpOption { Action: HelpAction help }) option.Action = new HelpWithEpilogue(help);
        }

        // An EXPR may contain '@' (matrix product), which the default response-file expansion would take for a file name.
        var parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        var invocation = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
        if (parsed.Errors.Count == 0) return parsed.Invoke(invocation);

        return Usage(root, parsed, args, output, error);
    }

    // Written here rather than by the library's ParseErrorAction, which prints help and typo corrections on
    // stdout: with --json, stdout must hold nothing but the JSON object.
    private static int Usage(RootCommand root, ParseResult parsed, string[] args, TextWriter output, TextWriter error)
    {
        var command = parsed.CommandResult.Command;
        var commands = root.Subcommands.Select(c => c.Name).ToList();
        List<string> messages;
        if (command is RootCommand && args.Length > 0 && !args[0].StartsWith('-'))
        {
            // The library would also report every later token as unmatched, which only buries the one mistake.
            var guess = Names.Closest(args[0], commands) is { } g ? $" (did you mean '{g}'?)" : "";
            messages = [$"unknown command '{args[0]}'{guess}; the commands are {string.Join(", ", commands)}"];
        }
        else messages = parsed.Errors.Select(e => e.Message).ToList();
        foreach (var m in messages) error.WriteLine($"funcdiff: {m}");
        var name = command is RootCommand ? "funcdiff" : $"funcdiff {command.Name}";
        error.WriteLine($"Run '{name} --help' for usage.");
        if (args.Contains("--json"))
        {
            var usage = new CliException(ErrorKind.Usage, string.Join(" ", messages));
            output.WriteLine(Json.Of(w => Json.Error(w, usage)));
        }
        return ExitCode.Usage;
    }

    /// <summary>The standard help, then the binding syntax (for commands that take --at) and the command's exit codes.</summary>
    private sealed class HelpWithEpilogue(HelpAction standard) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => standard.ClearsParseErrors;

        public override int Invoke(ParseResult parseResult)
        {
            var code = standard.Invoke(parseResult);
            var output = parseResult.InvocationConfiguration.Output;
            var command = parseResult.CommandResult.Command;
            if (ReadsBindings(command))
            {
                output.WriteLine(BindingsHelp);
                output.WriteLine();
            }
            output.WriteLine("Exit codes:");
            foreach (var (line, concerns) in ExitCodes)
                if (concerns is null || command is RootCommand || concerns(command)) output.WriteLine(line);
            output.WriteLine("  With --json, every failure also prints {\"error\": {\"kind\", \"message\", \"position\"}} on stdout.");
            return code;
        }
    }

    private static RootCommand Commands(TextWriter output, TextWriter error, Func<Stream> input)
    {
        var expr = new Argument<string>("EXPR")
        {
            Description = "The expression, in FuncDiff's language, e.g. \"sum((x - mean(x))^2)\" or \"tanh(x @ w)\"",
        };
        var at = new Option<string[]>("--at")
        {
            Description = "The inputs' values: name=value separated by ';' (see Bindings below)",
            HelpName = "bindings",
            AllowMultipleArgumentsPerToken = false,
        };
        var wrt = new Option<string[]>("--wrt")
        {
            Description = "The inputs to differentiate with respect to, comma-separated [default: every floating-point input]",
            HelpName = "names",
            AllowMultipleArgumentsPerToken = false,
        };
        var dtype = new Option<string>("--dtype")
        {
            Description = "The dtype of the floating-point inputs",
            DefaultValueFactory = _ => "float64",
        };
        dtype.AcceptOnlyFromAmong("float64", "float32");
        var seed = new Option<int>("--seed")
        {
            Description = "The seed randn(...) bindings (and check's sample) draw from",
            DefaultValueFactory = _ => 0,
            CustomParser = result => Integer(result, "--seed", int.MinValue, 0),
        };
        var sample = new Option<int>("--sample")
        {
            Description = "How many elements of each input to check, drawn with --seed",
            HelpName = "N",
            DefaultValueFactory = _ => GradientCheck.DefaultSample,
            CustomParser = result => Integer(result, "--sample", 1, GradientCheck.DefaultSample),
        };
        var all = new Option<bool>("--all")
        {
            Description = "Check every element of every input (two evaluations of EXPR per element)",
        };
        var json = new Option<bool>("--json")
        {
            Description = "Print one JSON object instead of text (NaN and infinities as the strings \"NaN\", \"-NaN\", \"Infinity\", \"-Infinity\")",
        };

        Command Define(
            string name,
            string description,
            bool differentiates,
            bool float32,
            Func<ParseResult, Problem, IReadOnlyList<(string Name, Expr Input)>, IReport> run,
            params Option[] extra)
        {
            var command = new Command(name, description) { expr, at };
            if (differentiates) command.Options.Add(wrt);
            if (float32) command.Options.Add(dtype);
            command.Options.Add(seed);
            foreach (var option in extra) command.Options.Add(option);
            command.Options.Add(json);
            command.SetAction(parse =>
            {
                var asJson = parse.GetValue(json);
                try
                {
                    var floatType = float32 && parse.GetValue(dtype) == "float32" ? DType.Float32 : DType.Float64;
                    var bindings = BindingReader.Read(parse.GetValue(at) ?? [], floatType, parse.GetValue(seed), input);
                    // Without --dtype the command computes in float64: float32 tensors from files are widened, exactly.
                    if (!float32) bindings = [.. bindings.Select(b => b.Value.DType == DType.Float32 ? b with { Value = b.Value.Cast(DType.Float64) } : b)];
                    var problem = Problem.Parse(parse.GetRequiredValue(expr), bindings);
                    var chosen = differentiates ? problem.Wrt(parse.GetValue(wrt) ?? []) : [];
                    var report = run(parse, problem, chosen);
                    if (asJson) output.WriteLine(Json.Of(report.WriteJson));
                    else report.WriteText(output);
                    return report.ExitCode;
                }
                catch (CliException e)
                {
                    return Fail(e, parse.GetRequiredValue(expr), asJson);
                }
                catch (FuncDiffException e)
                {
                    return Fail(CliException.From(e), parse.GetRequiredValue(expr), asJson);
                }
                catch (OutOfMemoryException)
                {
                    // Only the user's sizes (randn(50000, 50000), or a Jacobian of a large output) get here.
                    var tooLarge = new CliException(ErrorKind.Evaluation, "out of memory: the inputs or the derivatives asked for are too large");
                    return Fail(tooLarge, parse.GetRequiredValue(expr), asJson);
                }
                catch (Exception e)
                {
                    return Internal(e, asJson, output, error);
                }
            });
            return command;
        }

        int Fail(CliException e, string text, bool asJson)
        {
            var where = e.Line is { } line && e.Column is { } column ? $" at {line}:{column}" : "";
            error.WriteLine($"funcdiff: {Json.KindName(e.Kind)} error{where}: {e.Message}");
            var place = e.Shown ?? (e.Line is { } l && e.Column is { } c ? new Place(text, l, c) : null);
            place?.WriteWithCaret(error);
            if (e.Hint is { } hint) error.WriteLine($"hint: {hint}");
            if (asJson) output.WriteLine(Json.Of(w => Json.Error(w, e)));
            return ExitCode.UserError;
        }

        IReport Check(ParseResult parse, Problem problem, IReadOnlyList<(string Name, Expr Input)> chosen)
        {
            return GradientCheck.Run(problem, chosen, parse.GetValue(all) ? null : parse.GetValue(sample), parse.GetValue(seed), error);
        }

        var root = new RootCommand("Evaluate an expression and its derivatives at a point, and check them against finite differences.")
        {
            Define("eval", "Print the value of EXPR at the bindings.", differentiates: false, float32: true,
                (parse, problem, _) => ClinicCommands.CheckedEval(parse, problem) ?? new ValueReport(problem.Output.Eval(problem.Values)),
                ClinicCommands.CheckFinite),
            Define("grad", "Print the gradient of a scalar EXPR with respect to each input.", differentiates: true, float32: true,
                (parse, problem, wrt) => ClinicCommands.CheckedGrad(parse, problem, wrt) ?? Grad(parse, problem, wrt), ClinicCommands.CheckFinite),
            Define("jacobian", "Print every partial derivative of EXPR: for each input, shape = EXPR's shape + the input's shape.",
                differentiates: true, float32: true, Jacobian),
            Define("hessian", "Print the Hessian of a scalar EXPR with respect to each input: shape = the input's shape twice.",
                differentiates: true, float32: true, Hessian),
            Define("check", "Compare the analytic gradient (for a non-scalar EXPR, the vjp with a random cotangent seeded by --seed) with central finite differences, "
                + $"in float64. An element passes when {GradientCheck.Rule}. A failed check is a result, not a user error: "
                + "the report is printed as usual (with \"ok\": false) and the exit code is 3. Each input element checked costs two "
                + $"evaluations of EXPR, so a sample of {GradientCheck.DefaultSample} elements of each input is checked unless --all is given; "
                + "long runs report progress on stderr.",
                differentiates: true, float32: false, Check, sample, all),
            Define("explain", ClinicCommands.ExplainDescription, differentiates: true, float32: true, ClinicCommands.Explain),
            Define("graph", ClinicCommands.GraphDescription, differentiates: true, float32: true, ClinicCommands.Graph,
                ClinicCommands.Format, ClinicCommands.DotTimeout, ClinicCommands.WithGradient, ClinicCommands.WithDiagnosis),
            Demo.Command(output),
            Bench.Command(output),
        };
        var check = root.Subcommands.Single(c => c.Name == "check");
        check.Validators.Add(result =>
        {
            if (result.GetValue(all) && result.GetResult(sample) is { Implicit: false })
                result.AddError("--all checks every element and --sample a sample of them: give one or the other");
        });
        return root;
    }

    private static IReport Grad(ParseResult parse, Problem problem, IReadOnlyList<(string Name, Expr Input)> wrt)
    {
        try
        {
            return Derivatives("gradients", "gradient", problem, wrt, problem.Output.Grad([.. wrt.Select(w => w.Input)]));
        }
        catch (GradientException e) when (problem.Output.Rank > 0)
        {
            throw new CliException(ErrorKind.Gradient, e.Message)
            {
                Hint = $"`funcdiff jacobian` prints every partial derivative of an output of shape {Text.Shape(problem.Output.Shape)}; "
                    + "`funcdiff grad \"sum(...)\"` the gradient of its sum",
            };
        }
    }

    private static IReport Jacobian(ParseResult parse, Problem problem, IReadOnlyList<(string Name, Expr Input)> wrt) =>
        Derivatives("jacobians", "jacobian", problem, wrt, problem.Output.Jacobian([.. wrt.Select(w => w.Input)]),
            (name, _) => $"= output {Text.Shape(problem.Output.Shape)} + {name} {Text.Shape(problem.Values[name].Shape)}");

    private static IReport Hessian(ParseResult parse, Problem problem, IReadOnlyList<(string Name, Expr Input)> wrt) =>
        Derivatives("hessians", "hessian", problem, wrt, problem.Output.Hessian([.. wrt.Select(w => w.Input)]));

    // A numeric option's value from least to most, with a message that says what is wrong in plain words.
    internal static T Bounded<T>(ArgumentResult result, string option, string kind, NumberStyles styles, T least, T most, T fallback)
        where T : INumber<T>
    {
        if (result.Tokens.Count == 0) return fallback;
        var text = result.Tokens[^1].Value;
        // Written so that NaN is out of range.
        if (T.TryParse(text, styles, CultureInfo.InvariantCulture, out var value) && value >= least && value <= most) return value;
        result.AddError(string.Create(CultureInfo.InvariantCulture, $"{option} takes {kind} from {least} to {most}, not '{text}'"));
        return T.Zero;
    }

    // A whole-number option's value, at least least.
    internal static int Integer(ArgumentResult result, string option, int least, int fallback) =>
        Bounded(result, option, "a whole number", NumberStyles.AllowLeadingSign, least, int.MaxValue, fallback);

    private static DerivativesReport Derivatives(
        string property,
        string label,
        Problem problem,
        IReadOnlyList<(string Name, Expr Input)> wrt,
        FuncDiff.Derivatives derivatives,
        Func<string, Tensor, string>? note = null)
    {
        // One pass: the value and every derivative share their forward computation.
        var values = Expr.EvalMany([problem.Output, .. wrt.Select(w => derivatives[w.Input])], problem.Values);
        var named = wrt.Select((w, k) => (w.Name, values[k + 1])).ToList();
        return new DerivativesReport(property, label, values[0], named, note);
    }
}
