using System.Collections.Concurrent;
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
            // Each worker's first I/O is submitted from the pool (it starts with a yield); every other one from the device's thread.
            Assert.That(device.SubmittedOnPool, Is.LessThanOrEqualTo(4), $"{device.SubmittedOnPool} of 2048 submissions came from the thread pool");
        });
    }

    [Test]
    public async Task SynchronousDevice_StillFinishesATimedRun()
    {
        // The null engine completes every I/O before it is awaited: the workers must still yield so the run ends on time.
        var jobs = BenchJobParser.Parse(["--name=t", "--rw=randread", "--bs=4k", "--iodepth=8", "--numjobs=2", "--runtime=1", "--time_based", "--size=8m"]);
        var run = BenchRunner.RunAsync(jobs, (_, _) => ValueTask.FromResult<INamespaceDevice>(new NullNamespaceDevice(16L * 1024 * 1024)), TextWriter.Null,
            new BenchRunOptions(), CancellationToken.None);
        var report = await run.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(report.Jobs.Sum(j => j.Read.Ios), Is.GreaterThan(0));
    }

    /// <summary>Completes every command on its one thread, in order, after the submitter has returned.</summary>
    private sealed class CompletionThreadDevice : INamespaceDevice, IDisposable
    {
        private readonly BlockingCollection<TaskCompletionSource> _pending = new();
        private readonly Thread _thread;
        private int _submittedOnPool;

        public CompletionThreadDevice(long bytes)
        {
            BlockCount = (ulong)(bytes / 512);
            _thread = new Thread(() =>
            {
                foreach (var command in _pending.GetConsumingEnumerable())
                {
                    command.SetResult(); // continuations run here, synchronously, as on a queue's receive thread
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

            var command = new TaskCompletionSource();
            _pending.Add(command);
            return new ValueTask(command.Task);
        }
    }
}
