/// A second pair of hands for large work on a two-core budget: one background thread that takes the
/// second half of a split. A caller that finds it busy (another run is using it) does both halves itself,
/// so work never waits in a queue, and one that finishes its half before the partner has started the
/// other takes that back (a partner the machine has descheduled holds nobody up). Since a split never
/// changes the values (each half computes its own elements, the same way), who computes which half does
/// not matter. No allocation per use: the
/// thread waits on a monitor, and work is handed over as a delegate the caller made once.
module internal FuncDiff.Core.Kernels.Partner

open System
open System.Runtime.ExceptionServices
open System.Threading

/// How long a side spins for the other before waiting on the monitor: 200 µs covers the gap between two
/// splits of one plan run (mlp's two large products are about 50 µs apart), where a wake-up from the
/// monitor cost this VM up to 0.1 ms per split (mlp float32 0.43 → 0.32 ms with the spin of 200 µs instead
/// of about 20). The price is a core kept busy for at most that long after the last split.
let private spinTicks = Diagnostics.Stopwatch.Frequency / 5000L

/// Spins until ready () or spinTicks have passed.
let inline private spinUntil ([<InlineIfLambda>] ready: unit -> bool) =
    let started = Diagnostics.Stopwatch.GetTimestamp()
    let mutable spin = SpinWait()
    while not (ready ()) && Diagnostics.Stopwatch.GetTimestamp() - started < spinTicks do spin.SpinOnce -1

/// The states of a handed-over half.
[<RequireQualifiedAccess>]
module private Half =
    /// Nothing handed over (or the caller took its half back before the partner started it).
    let Idle = 0
    /// Handed over, not started.
    let Posted = 1
    /// The partner is running it.
    let Running = 2
    /// The partner has finished it.
    let Done = 3

[<Sealed>]
type private Worker() as this =
    let gate = obj ()
    let mutable work: Action = null
    let mutable state = Half.Idle
    let mutable failure: ExceptionDispatchInfo = null
    let mutable busy = 0
    let mutable allocated = 0L
    do Thread((fun () -> this.Loop()), IsBackground = true, Name = "FuncDiff partner").Start()

    member private _.Loop() =
        while true do
            // A busy run hands work over every few microseconds: spin a while before sleeping, since a
            // wake-up from the monitor costs more than many a half it would carry.
            spinUntil (fun () -> Volatile.Read &state = Half.Posted)
            Monitor.Enter gate
            while Volatile.Read &state <> Half.Posted do Monitor.Wait gate |> ignore
            Monitor.Exit gate
            // The caller may have taken the half back meanwhile; then there is nothing to do.
            if Interlocked.CompareExchange(&state, Half.Running, Half.Posted) = Half.Posted then
                try
                    try work.Invoke()
                    with e -> failure <- ExceptionDispatchInfo.Capture e
                finally
                    Volatile.Write(&allocated, GC.GetAllocatedBytesForCurrentThread())
                    Monitor.Enter gate
                    Volatile.Write(&state, Half.Done)
                    Monitor.PulseAll gate
                    Monitor.Exit gate

    /// The bytes the partner thread had allocated when it last finished a half (tests count them).
    member _.Allocated = Volatile.Read &allocated

    /// Runs `second` on the partner and `first` here, or both here when the partner is busy or has not
    /// started `second` by the time `first` is done (a descheduled partner never holds the caller up);
    /// returns when both are done, raising first's failure if it failed, else second's.
    member _.Split(first: Action, second: Action) =
        let both () =
            // Both halves here, and both run even if one fails, as they would on two threads.
            let mine = try first.Invoke(); null with e -> ExceptionDispatchInfo.Capture e
            second.Invoke()
            if not (isNull mine) then mine.Throw()
        if Interlocked.CompareExchange(&busy, 1, 0) <> 0 then both ()
        else
            try
                work <- second
                failure <- null
                Monitor.Enter gate
                Volatile.Write(&state, Half.Posted)
                Monitor.PulseAll gate
                Monitor.Exit gate
                let mine = try first.Invoke(); null with e -> ExceptionDispatchInfo.Capture e
                if Interlocked.CompareExchange(&state, Half.Idle, Half.Posted) = Half.Posted then
                    // Taken back: the partner had not started it.
                    failure <- (try second.Invoke(); null with e -> ExceptionDispatchInfo.Capture e)
                else
                    // The partner's half must be finished before its buffers are touched again, even if ours failed.
                    spinUntil (fun () -> Volatile.Read &state = Half.Done)
                    Monitor.Enter gate
                    while Volatile.Read &state <> Half.Done do Monitor.Wait gate |> ignore
                    Monitor.Exit gate
                    Volatile.Write(&state, Half.Idle)
                if not (isNull mine) then mine.Throw()
                if not (isNull failure) then failure.Throw()
            finally
                Volatile.Write(&busy, 0)

let private worker = lazy Worker()

/// Whether splitting is worth it here: more than one core.
let available = Environment.ProcessorCount > 1

/// Runs both actions, `second` on the partner thread when it is free; returns when both are done.
let split (first: Action) (second: Action) = worker.Value.Split(first, second)

/// The bytes the partner thread had allocated when it last finished a half: with the caller's own, what
/// a run allocates on both threads.
let allocatedBytes () = if worker.IsValueCreated then worker.Value.Allocated else 0L

/// Work in two parts for `split`, its two delegates made once so that a split allocates nothing: a
/// subclass holds the parts' state and runs one part in RunPart.
[<AbstractClass; AllowNullLiteral>]
type Halves() as this =
    let first = Action(fun () -> this.RunPart 0)
    let second = Action(fun () -> this.RunPart 1)

    /// Runs part 0 (on the calling thread) or part 1 (on the partner thread when it is free).
    abstract RunPart: part: int -> unit

    /// Runs both parts; returns when both are done, raising what either raised.
    member _.Split() = split first second
