using NvmeMptls.Target.Namespaces;

namespace NvmeMptls.Tests.Target.Namespaces;

/// <summary>The answers of one batch of device completions: which connections join, and that each is drained once.</summary>
public sealed class CompletionBatchTests
{
    private sealed class Member(List<string> log, string name) : IDeferredDrain
    {
        public void DrainDeferred() => log.Add(name);
    }

    [Test]
    public void WithoutAScope_NobodyJoins_TheCallerWakesItsOwnSender()
    {
        Assert.That(CompletionBatch.TryDefer(new Member([], "a")), Is.False);
    }

    [Test]
    public void InsideTheScope_EachConnectionJoinsOnce_AndRunDrainsEachOnceInOrder()
    {
        var log = new List<string>();
        Member a = new(log, "a"), b = new(log, "b");
        var batch = new CompletionBatch();
        var previous = batch.Enter();
        try
        {
            Assert.That(CompletionBatch.TryDefer(a), Is.True);
            Assert.That(CompletionBatch.TryDefer(b), Is.True);
            Assert.That(CompletionBatch.TryDefer(a), Is.True, "already in: still the batch's to drain");
            Assert.That(ThreadProbe.OnNewThread(() => CompletionBatch.TryDefer(b)), Is.False, "another thread is outside the scope");
        }
        finally
        {
            CompletionBatch.Exit(previous);
        }

        Assert.That(CompletionBatch.TryDefer(a), Is.False, "the scope ended");
        Assert.That(batch.Count, Is.EqualTo(2));
        Assert.That(log, Is.Empty, "nothing drains before Run");
        batch.Run();
        Assert.That(log, Is.EqualTo(new[] { "a", "b" }));
        Assert.That(batch.Count, Is.Zero);
        batch.Run();
        Assert.That(log, Has.Count.EqualTo(2), "a second run has nobody left");
    }

    [Test]
    public async Task OnAnIoUringReaper_CompletionsJoinItsBatch_AndTheirConnectionIsDrainedAfterwards_OnTheReaper()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("io_uring is Linux only");
        }

        string path = Path.Combine(IoUringTestDirectory.Root, "nvmemptls-answers-" + Guid.NewGuid().ToString("N") + ".img");
        await File.WriteAllBytesAsync(path, BlockDeviceWorkload.Pattern(8 * 4096, 33));
        try
        {
            IoUringFile? opened = IoUringFile.TryOpen(path, readOnly: true, direct: true, logicalBlockSize: 512,
                Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, out string reason);
            if (opened is null)
            {
                Assert.Ignore($"io_uring is not available here: {reason}");
            }

            using IoUringFile file = opened!;
            var drains = new System.Collections.Concurrent.ConcurrentQueue<int>();
            var member = new ThreadMember(drains);
            var joined = new System.Collections.Concurrent.ConcurrentQueue<(bool Joined, int Thread)>();

            // The reads are held back until their continuations are attached, so that each continuation runs inline on
            // the reaper when its read completes, as the target's command completion does.
            var held = new SubmissionBatch();
            var previous = held.Enter();
            var started = Enumerable.Range(0, 8).Select(i => file.ReadAsync(i * 4096L, new byte[4096]).AsTask()).ToArray();
            SubmissionBatch.Exit(previous);
            var reads = started.Select(read => read.ContinueWith(
                _ => joined.Enqueue((CompletionBatch.TryDefer(member), Environment.CurrentManagedThreadId)),
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default)).ToArray();
            held.Flush();

            // The last read's completion resumes this method inline, on the reaper and inside its batch: leave it first.
            await Task.WhenAll(reads).WaitAsync(TimeSpan.FromSeconds(30));
            await Task.Yield();

            var reaper = joined.First().Thread;

            Assert.That(joined.Select(j => j.Joined), Is.All.True, "each completion found the reaper's batch");
            Assert.That(joined.Select(j => j.Thread), Is.All.EqualTo(reaper));
            Assert.That(() => drains.Count, Is.GreaterThan(0).After(5000, 10), "the batch drained its connection");
            Assert.That(drains, Is.All.EqualTo(reaper), "on the reaper's thread");
            Assert.That(drains, Has.Count.LessThanOrEqualTo(joined.Count), "once per batch, not per completion");
        }
        finally
        {
            File.Delete(path);
        }
    }

    private sealed class ThreadMember(System.Collections.Concurrent.ConcurrentQueue<int> drains) : IDeferredDrain
    {
        public void DrainDeferred() => drains.Enqueue(Environment.CurrentManagedThreadId);
    }
}
