/// The property a model's test suite needs: its gradients agree with central finite differences at random
/// inputs. In Expecto: `testProperty "loss" (Gradients.matchFiniteDifferences Domain.Any [ w; b ] loss)`.
namespace FuncDiff.Testing

open FsCheck
open FsCheck.FSharp
open FuncDiff

/// Gradient properties for FsCheck (F#).
module Gradients =

    /// For bindings of every input of output drawn from the domain (and shrunk toward simpler values on
    /// failure), GradCheck with the given options passes for each of wrt; a failure raises with the report.
    let matchFiniteDifferencesWith (options: GradCheckOptions) (domain: Domain) (wrt: Expr list) (output: Expr) : Property =
        Prop.forAll (Shrink.arbitraryBindings domain output) (fun bound ->
            GradCheck.checkWith options bound wrt output |> GradCheck.raiseIfFailed)

    /// matchFiniteDifferencesWith every element checked and the default tolerances.
    let matchFiniteDifferences (domain: Domain) (wrt: Expr list) (output: Expr) : Property =
        matchFiniteDifferencesWith { GradCheckOptions.Default with Sample = None } domain wrt output

/// Gradient properties for FsCheck from C#: <c>Check.QuickThrowOnFailure(GradientProperties.MatchFiniteDifferences(loss, Domain.Any, w, b))</c>.
type GradientProperties =
    /// For bindings of every input of output drawn from the domain, every element of the derivative with
    /// respect to each of wrt agrees with central finite differences (GradCheck's rule); a failure raises
    /// GradCheckException with the report, and FsCheck shrinks the inputs toward simpler values.
    static member MatchFiniteDifferences(output: FuncDiff.Expr, domain: FuncDiff.Domain, [<System.ParamArray>] wrt: FuncDiff.Expr[]) : Property =
        Gradients.matchFiniteDifferences domain.Core [ for w in wrt -> w.Core ] output.Core
