using System.Collections.Concurrent;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.Tests.Connections;

/// <summary>
/// <see cref="BurstSender"/>, the writer turns of burst mode shared by the target's and the host's queues: the receive
/// loop drains at the end of its burst on its own thread; items posted while it waits wake the send task; a flush that
/// waits is handed to the send task with the writer (the receive loop goes on, nobody else writes meanwhile); the end of
/// sending closes the writer for good; a stop finishes a handed-over flush first.
/// </summary>
public sealed class BurstSenderTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>A queue of numbers "written" by draining; a flush can be made to wait, or to end sending.</summary>
    private sealed class Drain : IBurstDrain
    {
        private int _inDrain;

        public ConcurrentQueue<int> Queue { get; } = new();
        public ConcurrentQueue<int> Written { get; } = new();
        public ConcurrentQueue<int> DrainThreads { get; } = new();
        public TaskCompletionSource<bool>? Flush { get; private set; }
        public bool EndAfterNext { get; set; }

        /// <summary>The next drain throws this at once (not through its task).</summary>
        public Exception? ThrowNext { get; set; }

        /// <summary>The next drain returns a task faulted with this (as an async drain's failure arrives).</summary>
        public Exception? FaultNext { get; set; }

        /// <summary>The next drain blocks its thread inside, writer held, until this is set; <see cref="Blocked"/> says it is in.</summary>
        public ManualResetEventSlim? BlockNext { get; set; }

        public ManualResetEventSlim Blocked { get; } = new();
        private int _overlaps;
        private int _drains;

        public int Overlaps => Volatile.Read(ref _overlaps);
        public int Drains => Volatile.Read(ref _drains);

        public bool HasQueued => !Queue.IsEmpty;

        /// <summary>The next drain's flush waits until the returned source is completed (its result: sending ended).</summary>
        public TaskCompletionSource<bool> HoldNextFlush()
        {
            Flush = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            return Flush;
        }

        public ValueTask<bool> DrainAsync(CancellationToken cancellationToken)
        {
            if (Interlocked.Exchange(ref _inDrain, 1) != 0)
            {
                Interlocked.Increment(ref _overlaps);
            }

            Interlocked.Increment(ref _drains);
            DrainThreads.Enqueue(Environment.CurrentManagedThreadId);
            if (ThrowNext is { } error)
            {
                ThrowNext = null;
                Volatile.Write(ref _inDrain, 0);
                throw error;
            }

            if (FaultNext is { } fault)
            {
                FaultNext = null;
                Volatile.Write(ref _inDrain, 0);
                return ValueTask.FromException<bool>(fault);
            }

            if (BlockNext is { } gate)
            {
                BlockNext = null;
                Blocked.Set();
                gate.Wait(CancellationToken.None);
            }

            while (Queue.TryDequeue(out var item))
            {
                Written.Enqueue(item);
            }

            if (Flush is { } flush)
            {
                Flush = null;
                return new ValueTask<bool>(LeaveAfter(flush.Task));
            }

            Volatile.Write(ref _inDrain, 0);
            return new ValueTask<bool>(EndAfterNext);
        }

        private async Task<bool> LeaveAfter(Task<bool> flush)
        {
            var ended = await flush.ConfigureAwait(false);
            Volatile.Write(ref _inDrain, 0);
            return ended;
        }
    }

    private static (Drain Drain, BurstSender Sender, IReceiveBurst Burst) Create()
    {
        var drain = new Drain();
        var sender = new BurstSender(drain);
        return (drain, sender, sender);
    }

    private static void Post(Drain drain, BurstSender sender, int item)
    {
        drain.Queue.Enqueue(item);
        sender.OnPosted();
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "timed out");
            await Task.Delay(5);
        }
    }

    [Test]
    public void BurstEnd_DrainsOnTheReceiveThread_WithoutTheSendTask()
    {
        var (drain, sender, burst) = Create();
        Post(drain, sender, 1); // the receive loop is in a burst: no kick needed, it drains at the end
        Post(drain, sender, 2);

        var end = burst.OnBurstEndAsync(CancellationToken.None);

        Assert.That(end.IsCompletedSuccessfully, Is.True);
        Assert.That(drain.Written, Is.EqualTo(new[] { 1, 2 }));
        Assert.That(drain.DrainThreads, Is.EqualTo(new[] { Environment.CurrentManagedThreadId }));
    }

    [Test]
    public async Task PostedWhileTheReceiveLoopWaits_KicksTheSendTask()
    {
        var (drain, sender, burst) = Create();
        using var stop = new CancellationTokenSource();
        var run = sender.RunAsync(stop.Token);
        await burst.OnBurstEndAsync(CancellationToken.None); // nothing queued: the receive loop waits

        Post(drain, sender, 7);
        await WaitUntilAsync(() => drain.Written.Contains(7));

        await stop.CancelAsync();
        Assert.That(await run.WaitAsync(Timeout), Is.True, "ended by the stop");
    }

    [Test]
    public async Task PostedDuringABurst_WaitsForTheBurstEnd_NotTheSendTask()
    {
        var (drain, sender, burst) = Create();
        using var stop = new CancellationTokenSource();
        var run = sender.RunAsync(stop.Token);
        burst.OnBurstStart();

        Post(drain, sender, 3);
        await Task.Delay(100);
        Assert.That(drain.Drains, Is.Zero, "the receive loop will drain it: no kick, no send-task wake-up");

        await burst.OnBurstEndAsync(CancellationToken.None);
        Assert.That(drain.Written, Is.EqualTo(new[] { 3 }));
        await stop.CancelAsync();
        await run.WaitAsync(Timeout);
    }

    [Test]
    public async Task AFlushThatWaits_IsHandedOver_AndNobodyWritesUntilItEnds()
    {
        var (drain, sender, burst) = Create();
        using var stop = new CancellationTokenSource();
        var run = sender.RunAsync(stop.Token);
        var flush = drain.HoldNextFlush();
        Post(drain, sender, 1);

        var end = burst.OnBurstEndAsync(CancellationToken.None);
        Assert.That(end.IsCompleted, Is.True, "the receive loop does not wait for the peer: it reads on");

        burst.OnBurstStart();
        Post(drain, sender, 2);
        await burst.OnBurstEndAsync(CancellationToken.None); // the writer is with the send task: leaves 2 to it
        Post(drain, sender, 3);
        await Task.Delay(100);
        Assert.That(drain.Written, Is.EqualTo(new[] { 1 }), "nothing is written while the handed-over flush waits");

        flush.SetResult(false);
        await WaitUntilAsync(() => drain.Written.Count == 3);
        Assert.That(drain.Written, Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(drain.Overlaps, Is.Zero, "never two drains at once");
        await stop.CancelAsync();
        await run.WaitAsync(Timeout);
    }

    [Test]
    public async Task ADrainThatMeetsTheEnd_ClosesTheWriter_AndEndsTheSendTask()
    {
        var (drain, sender, burst) = Create();
        drain.EndAfterNext = true;
        var run = sender.RunAsync(CancellationToken.None);
        Post(drain, sender, 1);

        await burst.OnBurstEndAsync(CancellationToken.None);

        Assert.That(await run.WaitAsync(Timeout), Is.False, "ended by the drain, not by a stop");
        drain.EndAfterNext = false;
        burst.OnBurstStart();
        Post(drain, sender, 2);
        await burst.OnBurstEndAsync(CancellationToken.None);
        Assert.That(drain.Drains, Is.EqualTo(1), "after the end nobody takes the writer (nothing follows a TermReq)");
    }

    [Test]
    public async Task CompleteReceive_TheSendTaskDrainsTheLastItems_AndEnds()
    {
        var (drain, sender, burst) = Create();
        var run = sender.RunAsync(CancellationToken.None);
        await burst.OnBurstEndAsync(CancellationToken.None);

        drain.Queue.Enqueue(9); // the last item (a TermReq, say), queued by the receive side as it ends
        sender.CompleteReceive();

        Assert.That(await run.WaitAsync(Timeout), Is.False);
        Assert.That(drain.Written, Is.EqualTo(new[] { 9 }));
    }

    [Test]
    public async Task Stop_FinishesAHandedOverFlush_BeforeTheSendTaskEnds()
    {
        var (drain, sender, burst) = Create();
        using var stop = new CancellationTokenSource();
        var flush = drain.HoldNextFlush();
        Post(drain, sender, 1);
        await burst.OnBurstEndAsync(CancellationToken.None); // handed over before the send task looks
        sender.Stop(); // and the stop comes before it looks too
        var run = sender.RunAsync(stop.Token);

        await Task.Delay(100);
        Assert.That(run.IsCompleted, Is.False, "the send task waits for the flush it was handed");

        flush.SetException(new IOException("reset"));
        Assert.That(await run.WaitAsync(Timeout), Is.True, "the flush's error is the connection's end, reported elsewhere");
    }

    [Test]
    public async Task Close_WaitsForTheHolderToLetGo_ThenNobodyTakesTheWriter()
    {
        var (drain, sender, burst) = Create();
        var flush = drain.HoldNextFlush();
        Post(drain, sender, 1);
        var run = sender.RunAsync(CancellationToken.None);
        await burst.OnBurstEndAsync(CancellationToken.None); // the send task holds the writer while the flush waits

        var close = Task.Run(sender.Close);
        await Task.Delay(100);
        Assert.That(close.IsCompleted, Is.False, "a writer is copying into the pipe: Close waits for it");
        flush.SetResult(false);
        await close.WaitAsync(Timeout);

        burst.OnBurstStart();
        Post(drain, sender, 2);
        await burst.OnBurstEndAsync(CancellationToken.None);
        await Task.Delay(100);
        Assert.That(drain.Written, Is.EqualTo(new[] { 1 }), "a closed writer is never taken again");
        sender.Stop();
        await run.WaitAsync(Timeout);
    }

    [Test]
    public async Task DrainHere_WhileTheReceiveLoopWaits_DrainsOnTheCallingThread_WithoutTheSendTask()
    {
        var (drain, sender, burst) = Create();
        using var stop = new CancellationTokenSource();
        var run = sender.RunAsync(stop.Token);
        await burst.OnBurstEndAsync(CancellationToken.None); // the receive loop waits for the peer

        drain.Queue.Enqueue(4); // queued by a completing thread, which drains itself instead of OnPosted
        drain.Queue.Enqueue(5);
        sender.DrainHere();

        Assert.That(drain.Written, Is.EqualTo(new[] { 4, 5 }));
        Assert.That(drain.DrainThreads, Is.EqualTo(new[] { Environment.CurrentManagedThreadId }), "one drain, on this thread");
        await Task.Delay(100);
        Assert.That(drain.Drains, Is.EqualTo(1), "the send task was not woken");
        await stop.CancelAsync();
        await run.WaitAsync(Timeout);
    }

    [Test]
    public async Task DrainHere_DuringABurst_LeavesItToTheBurstEnd()
    {
        var (drain, sender, burst) = Create();
        burst.OnBurstStart();
        drain.Queue.Enqueue(6);
        sender.DrainHere();
        Assert.That(drain.Drains, Is.Zero, "the receive loop drains at the end of its burst");

        await burst.OnBurstEndAsync(CancellationToken.None);
        Assert.That(drain.Written, Is.EqualTo(new[] { 6 }));
    }

    [Test]
    public async Task DrainHere_AFlushThatWaits_IsHandedOverToTheSendTask_AndNobodyWritesUntilItEnds()
    {
        var (drain, sender, burst) = Create();
        using var stop = new CancellationTokenSource();
        var run = sender.RunAsync(stop.Token);
        await burst.OnBurstEndAsync(CancellationToken.None);

        var flush = drain.HoldNextFlush();
        drain.Queue.Enqueue(1);
        sender.DrainHere(); // returns at once: the flush waits, the send task holds the writer now
        Post(drain, sender, 2);
        await Task.Delay(100);
        Assert.That(drain.Written, Is.EqualTo(new[] { 1 }), "nobody writes while the handed-over flush waits");

        flush.SetResult(false);
        await WaitUntilAsync(() => drain.Written.Contains(2));
        Assert.That(drain.Overlaps, Is.Zero);
        await stop.CancelAsync();
        await run.WaitAsync(Timeout);
    }

    [Test]
    public async Task DrainHere_ADrainThatThrows_NeverThrowsHere_TheSendTaskFailsWithIt()
    {
        var (drain, sender, burst) = Create();
        var run = sender.RunAsync(CancellationToken.None);
        await burst.OnBurstEndAsync(CancellationToken.None);

        drain.ThrowNext = new IOException("broken pipe");
        drain.Queue.Enqueue(1);
        Assert.DoesNotThrow(() => sender.DrainHere(), "a reaper thread must survive a connection's failure");

        var error = Assert.ThrowsAsync<IOException>(async () => await run.WaitAsync(Timeout));
        Assert.That(error!.Message, Is.EqualTo("broken pipe"));
    }

    [Test]
    public async Task DrainHere_ADrainThatFaults_ClosesTheWriter_AndTheSendTaskFailsWithIt()
    {
        var (drain, sender, burst) = Create();
        var run = sender.RunAsync(CancellationToken.None);
        await burst.OnBurstEndAsync(CancellationToken.None);

        drain.FaultNext = new IOException("reset by peer");
        drain.Queue.Enqueue(1);
        sender.DrainHere();
        var error = Assert.ThrowsAsync<IOException>(async () => await run.WaitAsync(Timeout));
        Assert.That(error!.Message, Is.EqualTo("reset by peer"));

        drain.Queue.Enqueue(2);
        sender.DrainHere();
        await burst.OnBurstEndAsync(CancellationToken.None);
        Assert.That(drain.Drains, Is.EqualTo(1), "nobody writes into the failed output any more");
    }

    [Test]
    public async Task DrainHere_WhileTheSendTaskHoldsTheWriter_LeavesIt_AndTheHolderSendsItAfter()
    {
        var (drain, sender, burst) = Create();
        using var stop = new CancellationTokenSource();
        var run = sender.RunAsync(stop.Token);
        await burst.OnBurstEndAsync(CancellationToken.None);

        var flush = drain.HoldNextFlush();
        Post(drain, sender, 1); // the send task drains it and waits in the flush, writer held
        await WaitUntilAsync(() => drain.Written.Contains(1));
        drain.Queue.Enqueue(2);
        var reaper = new Thread(sender.DrainHere);
        reaper.Start();
        reaper.Join();
        Assert.That(drain.Drains, Is.EqualTo(1), "the writer is held: no second drain");

        flush.SetResult(false);
        await WaitUntilAsync(() => drain.Written.Contains(2));
        Assert.That(drain.DrainThreads, Does.Not.Contain(reaper.ManagedThreadId), "the holder drained it");
        await stop.CancelAsync();
        await run.WaitAsync(Timeout);
    }

    [Test]
    public async Task DrainHere_HoldingTheWriterWhenTheReceiveSideEnds_TheSendTaskStillEnds()
    {
        var (drain, sender, burst) = Create();
        var run = sender.RunAsync(CancellationToken.None);
        await burst.OnBurstEndAsync(CancellationToken.None);

        using var gate = new ManualResetEventSlim();
        drain.BlockNext = gate;
        drain.Queue.Enqueue(1);
        var reaper = new Thread(sender.DrainHere) { IsBackground = true };
        reaper.Start();
        Assert.That(drain.Blocked.Wait(Timeout), Is.True, "the drain holds the writer");

        sender.CompleteReceive(); // its kick finds the writer taken
        await Task.Delay(100);
        gate.Set();               // the drain lets go: the send task must look again and end
        Assert.That(await run.WaitAsync(Timeout), Is.False, "ended after the last drain");
        Assert.That(reaper.Join(Timeout), Is.True);
        Assert.That(drain.Written, Is.EqualTo(new[] { 1 }));
    }

    [Test]
    public async Task DrainHere_AfterTheReceiveSideEnded_LeavesTheLastDrainToTheSendTask()
    {
        var (drain, sender, burst) = Create();
        await burst.OnBurstEndAsync(CancellationToken.None);
        sender.CompleteReceive();
        drain.Queue.Enqueue(1);
        sender.DrainHere();
        Assert.That(drain.Drains, Is.Zero);

        Assert.That(await sender.RunAsync(CancellationToken.None).WaitAsync(Timeout), Is.False);
        Assert.That(drain.Written, Is.EqualTo(new[] { 1 }), "the send task drained what was left");
    }
}
