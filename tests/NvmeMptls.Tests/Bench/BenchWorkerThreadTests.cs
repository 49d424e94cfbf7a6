using System.Collections.Concurrent;
using System.Threading.Tasks.Sources;
using NvmeMptls.Initiator;
using NvmeMptls.Initiator.LoadGen;

namespace NvmeMptls.Tests.Bench;

/// <summary>
/// Where the bench's workers run: an I/O that completes later, on the device's own thread (a queue's receive thread),
/// continues there and submits the next one there; only a run of I/Os that complete before they are awaited makes a
/// worker yield its thread. Yielding on a count regardless woke a thread-pool worker that spun on the load generator's
/// one CPU (bench/results/send-segment-20261207.md).
/// </summary>
public sealed class BenchWorkerThreadTests
{
    [Test]
    public async Task AsyncDevice_WorkersSubmitOnTheCompletionThread_NeverBackOnThePool()
    {
        using var device = new CompletionThreadDevice(16L * 1024 * 1024);
        var jobs = BenchJobParser.Parse(["--name=t", "--rw=randwrite", "--bs=4k", "--iodepth=4", "--size=8m"]);

        var report = await BenchRunner.RunAsync(jobs, (_, _) => ValueTask.FromResult<INamespaceDevice>(device), TextWriter.Null, new BenchRunOptions(),
            CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Multiple(() =>
        {
            Assert.That(report.TotalErrors, Is.Zero);
            Assert.That(report.Jobs[0].Write.Ios, Is.EqualTo(2048), "512 I/Os per worker, past the 256 after which workers used to yield");
            // Each worker's first I/O is submitted from the pool (it starts with a yield); every other one from the
            // device's thread. A yield every 256 I/Os made it 12 or 13.
            Assert.That(device.SubmittedOnPool, Is.LessThanOrEqualTo(4), $"{device.SubmittedOnPool} of 2048 submissions came from the thread pool");
        });
    }

    [Test]
    public async Task SynchronousDevice_WorkersStillLetOthersRun()
    {
        // The null engine completes every I/O before it is awaited, so a worker that never yielded would keep its
        // thread until the deadline. On a one-at-a-time scheduler a task queued behind the workers shows it: it waits
        // a few hundred I/Os, not the rest of the 3 s run.
        var exclusive = new ConcurrentExclusiveSchedulerPair().ExclusiveScheduler;
        var jobs = BenchJobParser.Parse(["--name=t", "--rw=randread", "--bs=4k", "--iodepth=4", "--runtime=3", "--time_based", "--size=8m"]);
        var run = Task.Factory.StartNew(
            () => BenchRunner.RunAsync(jobs, (_, _) => ValueTask.FromResult<INamespaceDevice>(new NullNamespaceDevice(16L * 1024 * 1024)), TextWriter.Null,
                new BenchRunOptions(), CancellationToken.None),
            CancellationToken.None, TaskCreationOptions.None, exclusive).Unwrap();
        await Task.Delay(200);
        long queued = Environment.TickCount64;
        var probe = Task.Factory.StartNew(() => Environment.TickCount64, CancellationToken.None, TaskCreationOptions.None, exclusive);

        long ran = await probe.WaitAsync(TimeSpan.FromSeconds(30));
        var report = await run.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Multiple(() =>
        {
            Assert.That(report.Jobs[0].Read.Ios, Is.GreaterThan(0));
            Assert.That(ran - queued, Is.LessThan(1000), $"a task queued behind the workers waited {ran - queued} ms");
        });
    }

    /// <summary>
    /// Completes every command on its one thread, and only once the submitter has awaited it (the command is handed to
    /// the thread when the continuation is registered), so the completion always comes after the await, as on a queue.
    /// </summary>
    private sealed class CompletionThreadDevice : INamespaceDevice, IDisposable
    {
        private readonly BlockingCollection<Command> _pending = new();
        private readonly Thread _thread;
        private int _submittedOnPool;

        public CompletionThreadDevice(long bytes)
        {
            BlockCount = (ulong)(bytes / 512);
            _thread = new Thread(() =>
            {
                foreach (var command in _pending.GetConsumingEnumerable())
                {
                    command.Complete(); // the continuation runs here, synchronously, as on a queue's receive thread
                }
            }) { IsBackground = true, Name = "device completions" };
            _thread.Start();
        }

        public int SubmittedOnPool => Volatile.Read(ref _submittedOnPool);

        public uint Nsid => 1;

        public int LbaSize => 512;

        public ulong BlockCount { get; }

        public int MaxTransferBytes => 1 << 20;

        public ValueTask ReadAsync(ulong lba, Memory<byte> buffer, CancellationToken cancellationToken = default) => Submit();

        public ValueTask WriteAsync(ulong lba, ReadOnlyMemory<byte> data, bool forceUnitAccess = false, CancellationToken cancellationToken = default) => Submit();

        public ValueTask FlushAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public ValueTask WriteZeroesAsync(ulong lba, uint blocks, bool deallocate = false, CancellationToken cancellationToken = default) => Submit();

        public ValueTask DeallocateAsync(ulong lba, uint blocks, CancellationToken cancellationToken = default) => Submit();

        public void Dispose()
        {
            _pending.CompleteAdding();
            // The test's own continuation may run on the device's thread (the last completion resumes it there).
            if (Thread.CurrentThread != _thread)
            {
                _thread.Join();
                _pending.Dispose();
            }
        }

        private ValueTask Submit()
        {
            if (Thread.CurrentThread.IsThreadPoolThread)
            {
                Interlocked.Increment(ref _submittedOnPool);
            }

            var command = new Command(_pending);
            return new ValueTask(command, 0);
        }

        private sealed class Command(BlockingCollection<Command> queue) : IValueTaskSource
        {
            private ManualResetValueTaskSourceCore<bool> _core;

            public void Complete() => _core.SetResult(true);

            public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

            public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
            {
                _core.OnCompleted(continuation, state, token, flags);
                queue.Add(this);
            }

            public void GetResult(short token) => _core.GetResult(token);
        }
    }
}
