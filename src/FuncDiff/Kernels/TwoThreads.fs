/// Work split between the calling thread and one pool thread, for kernels whose values do not depend
/// on who computes which part (fused elementwise blocks, the output panels of a matrix product).
module internal FuncDiff.Core.Kernels.TwoThreads

open System
open System.Runtime.ExceptionServices
open System.Threading

/// Whether splitting can help at all: with one core the second half would only wait its turn.
let available = Environment.ProcessorCount > 1

/// Runs an action on a pool thread and waits for it, without allocating per use: make one per
/// caller that needs it and keep it; it serves one Start/Wait pair at a time.
[<Sealed>]
type Helper(action: Action) =
    let finished = new ManualResetEventSlim(false)
    let mutable failure: ExceptionDispatchInfo = null

    member h.Start() =
        finished.Reset()
        failure <- null
        ThreadPool.UnsafeQueueUserWorkItem(h, false) |> ignore

    /// Waits for the action; what it raised is raised here.
    member _.Wait() =
        finished.Wait()
        if not (isNull failure) then failure.Throw()

    interface IThreadPoolWorkItem with
        member _.Execute() =
            try
                try action.Invoke()
                with e -> failure <- ExceptionDispatchInfo.Capture e
            finally
                finished.Set()
