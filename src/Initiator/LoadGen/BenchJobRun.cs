using System.Diagnostics;
using System.Runtime.CompilerServices;
using NvmeMptls.Initiator;

namespace NvmeMptls.Initiator.LoadGen;

/// <summary>
/// One clone of one job: <c>iodepth</c> workers, each with its own preallocated pinned buffer, each keeping one
/// I/O in flight, so the device always has <c>iodepth</c> outstanding. The per-I/O path allocates nothing:
/// pooled async state machines, no closures, no LINQ, no formatting.
/// </summary>
internal sealed class BenchJobRun
{
    private const int MaxRecordedFailures = 16;
    private static readonly double s_nsPerTick = 1e9 / Stopwatch.Frequency;

    private readonly BlockTracker? _tracker;
    private readonly long _trackerBase;
    private readonly long _totalBytes;
    private readonly List<(long Offset, string Reason)> _failures = [];
    private long _issued;
    private long _sequential;
    private long _verifyCursor;
    private long _completedIos;
    private long _completedBytes;
    private long _verified;
    private long _unwritten;
    private long _verifyErrors;
    private long _verifyReads;
    private volatile bool _stop;
    private volatile bool _recording;
    private int _firstErrno;
    private long _recordStart;
    private long _recordEnd;
    private long _rampEnd;
    private long _runEnd;

    public BenchJobRun(BenchJob job, int clone, uint jobId, INamespaceDevice device, BlockTracker? tracker)
    {
        Job = job;
        Clone = clone;
        JobId = jobId;
        Device = device;
        var deviceBytes = (long)device.BlockCount * device.LbaSize;
        RegionStart = job.Offset + (clone * job.OffsetIncrement);
        var length = job.Size > 0 ? job.Size : (deviceBytes - RegionStart) / job.BlockSize * job.BlockSize;
        if (job.BlockSize % device.LbaSize != 0 || RegionStart % device.LbaSize != 0)
        {
            throw new BenchJobException($"job '{job.Name}': bs and offset must be multiples of the device's {device.LbaSize}-byte LBA");
        }

        if (length < job.BlockSize || RegionStart + length > deviceBytes)
        {
            throw new BenchJobException($"job '{job.Name}' clone {clone}: region {RegionStart}+{length} does not fit the {deviceBytes}-byte device");
        }

        RegionBlocks = length / job.BlockSize;
        _totalBytes = RegionBlocks * job.BlockSize;
        _tracker = tracker;
        _trackerBase = (RegionStart - job.Offset) / job.BlockSize;
    }

    public BenchJob Job { get; }

    public int Clone { get; }

    public uint JobId { get; }

    public INamespaceDevice Device { get; }

    public long RegionStart { get; }

    public long RegionBlocks { get; }

    public long TotalBytes => _totalBytes;

    public BenchRecorder Read { get; } = new();

    public BenchRecorder Write { get; } = new();

    public long CompletedIos => Interlocked.Read(ref _completedIos);

    public long CompletedBytes => Interlocked.Read(ref _completedBytes);

    public long Errors => Read.Errors + Write.Errors;

    public long Verified => Interlocked.Read(ref _verified);

    public long Unwritten => Interlocked.Read(ref _unwritten);

    public long VerifyErrors => Interlocked.Read(ref _verifyErrors);

    public long VerifyReads => Interlocked.Read(ref _verifyReads);

    public int FirstErrno => Volatile.Read(ref _firstErrno);

    public bool Finished { get; private set; }

    public TimeSpan MeasuredTime => Stopwatch.GetElapsedTime(_recordStart, _recordEnd == 0 ? Stopwatch.GetTimestamp() : _recordEnd);

    public IReadOnlyList<(long Offset, string Reason)> Failures
    {
        get
        {
            lock (_failures)
            {
                return [.. _failures];
            }
        }
    }

    public void RequestStop() => _stop = true;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var cancel = cancellationToken.UnsafeRegister(static state => ((BenchJobRun)state!).RequestStop(), this);
        var buffers = new byte[Job.IoDepth][];
        for (var i = 0; i < buffers.Length; i++)
        {
            buffers[i] = GC.AllocateUninitializedArray<byte>(Job.BlockSize, pinned: true);
        }

        var now = Stopwatch.GetTimestamp();
        _rampEnd = now + (long)(Job.RampTime.TotalSeconds * Stopwatch.Frequency);
        _runEnd = Job.Runtime is { } runtime ? _rampEnd + (long)(runtime.TotalSeconds * Stopwatch.Frequency) : long.MaxValue;
        if (Job.RampTime <= TimeSpan.Zero)
        {
            StartRecording(now);
        }

        var workers = new Task[Job.IoDepth];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = WorkerAsync(buffers[i], Job.RandSeed + (ulong)((Clone * 7919) + (i * 104729) + 1)).AsTask();
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        _recordEnd = Stopwatch.GetTimestamp();
        StartRecording(_recordEnd);

        if (_tracker is not null && Job.Writes && (Job.ContinueOnError || FirstErrno == 0) && !cancellationToken.IsCancellationRequested)
        {
            for (var i = 0; i < workers.Length; i++)
            {
                workers[i] = VerifyPassAsync(buffers[i]).AsTask();
            }

            await Task.WhenAll(workers).ConfigureAwait(false);
        }

        Finished = true;
    }

    /// <summary>The first worker past the ramp starts the measured phase; ramp I/O is neither recorded nor counted against size.</summary>
    private void StartRecording(long now)
    {
        if (Interlocked.CompareExchange(ref _recordStart, now, 0) == 0)
        {
            _recording = true;
        }
    }

    /// <summary>I/Os in a row that completed synchronously before a worker yields its thread.</summary>
    private const int InlineRunBeforeYield = 256;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WorkerAsync(byte[] buffer, ulong rng)
    {
        await Task.Yield();
        var blockSize = Job.BlockSize;
        var readPercent = Job.ReadPercent;
        var inlineRun = 0;
        while (!_stop)
        {
            // Deadlines are checked here, not by a timer: with a device that completes inline, timer continuations
            // could starve behind the workers on a small thread pool.
            var now = Stopwatch.GetTimestamp();
            if (now >= _runEnd)
            {
                break;
            }

            if (!_recording && now >= _rampEnd)
            {
                StartRecording(now);
            }

            if (inlineRun == InlineRunBeforeYield)
            {
                // 256 I/Os in a row completed before they were awaited (the null engine, a synchronous device): this
                // worker never left its thread, so it lets the others and the timers run. A remote device's I/O
                // completes later, on the receive thread, and yielding there anyway put a thread-pool worker to spin
                // on the load generator's one CPU (22% of its samples at 4 KiB randwrite QD32 against SPDK).
                inlineRun = 0;
                await Task.Yield();
            }

            var recording = _recording;
            if (recording && !Job.TimeBased && Interlocked.Add(ref _issued, blockSize) > _totalBytes)
            {
                break;
            }

            var isRead = readPercent == 100 || (readPercent != 0 && (int)(Next(ref rng) % 100) < readPercent);
            var block = Job.IsRandom ? (long)(Next(ref rng) % (ulong)RegionBlocks) : (Interlocked.Increment(ref _sequential) - 1) % RegionBlocks;
            var tracked = -1L;
            if (_tracker is not null)
            {
                var attempts = 0;
                while (!_tracker.TryAcquire(_trackerBase + block))
                {
                    if (++attempts % 64 == 0)
                    {
                        await Task.Yield();
                    }

                    block = Job.IsRandom ? (long)(Next(ref rng) % (ulong)RegionBlocks) : (Interlocked.Increment(ref _sequential) - 1) % RegionBlocks;
                }

                tracked = _trackerBase + block;
            }

            // The I/O itself is awaited right here, not in a per-I/O async method: a pooled state machine per I/O
            // allocates whenever the runtime's small per-thread cache runs dry, and the worker's own lives for the run.
            var offset = RegionStart + (block * Job.BlockSize);
            BeginIo(buffer, isRead, offset, tracked, out var generation, out var expected);
            Exception? failure = null;
            var start = Stopwatch.GetTimestamp();
            try
            {
                inlineRun++; // counted before the call, so a transfer that throws synchronously counts as inline too
                var transfer = Transfer(buffer, offset, isRead);
                if (!transfer.IsCompleted)
                {
                    inlineRun = 0;
                }

                await transfer.ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                failure = ex;
            }

            EndIo(buffer, isRead, offset, tracked, generation, expected, recording, start, failure);
        }
    }

    /// <summary>Before an I/O: the generation a tracked read expects, or the pattern a tracked write carries.</summary>
    private void BeginIo(byte[] buffer, bool isRead, long offset, long tracked, out uint generation, out uint expected)
    {
        generation = 0u;
        expected = 0u;
        if (tracked < 0)
        {
            return;
        }

        if (isRead)
        {
            expected = _tracker!.Generation(tracked);
        }
        else
        {
            generation = _tracker!.NextGeneration();
            BenchVerifier.Fill(buffer, (ulong)offset, generation, JobId);
        }
    }

    /// <summary>After an I/O: latency and counters, the read's check or the write's new generation, or the error.</summary>
    private void EndIo(byte[] buffer, bool isRead, long offset, long tracked, uint generation, uint expected, bool recording, long start, Exception? failure)
    {
        var recorder = isRead ? Read : Write;
        try
        {
            if (failure is null)
            {
                var elapsed = (long)((Stopwatch.GetTimestamp() - start) * s_nsPerTick);
                if (recording)
                {
                    recorder.Record(elapsed, Job.BlockSize);
                }

                Interlocked.Increment(ref _completedIos);
                Interlocked.Add(ref _completedBytes, Job.BlockSize);
                if (tracked >= 0)
                {
                    if (isRead)
                    {
                        CheckBlock(buffer, offset, expected);
                    }
                    else
                    {
                        _tracker!.Completed(tracked, generation);
                    }
                }
            }
            else
            {
                recorder.RecordError();
                Fail(offset, (uint)Errno.FromException(failure), failure.Message);
                if (tracked >= 0 && !isRead)
                {
                    // A failed write may still have landed (executed, then the connection dropped): the block holds the
                    // old or the new generation, so it is checked like a block of unknown generation (magic, offset, CRC).
                    _tracker!.Completed(tracked, 0);
                }
            }
        }
        finally
        {
            if (tracked >= 0)
            {
                _tracker!.Release(tracked);
            }
        }
    }

    /// <summary>After a writing job: read back every block this clone's region saw written and check it exactly.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask VerifyPassAsync(byte[] buffer)
    {
        while (true)
        {
            var block = Interlocked.Increment(ref _verifyCursor) - 1;
            if (block >= RegionBlocks)
            {
                return;
            }

            var tracked = _trackerBase + block;
            while (!_tracker!.TryAcquire(tracked))
            {
                await Task.Yield();
            }

            try
            {
                var expected = _tracker.Generation(tracked);
                if (expected == 0)
                {
                    continue;
                }

                var offset = RegionStart + (block * Job.BlockSize);
                try
                {
                    await TransferAsync(buffer, offset, isRead: true).ConfigureAwait(false);
                    Interlocked.Increment(ref _verifyReads);
                    CheckBlock(buffer, offset, expected);
                }
                catch (Exception ex)
                {
                    Read.RecordError();
                    Fail(offset, (uint)Errno.FromException(ex), ex.Message);
                }
            }
            finally
            {
                _tracker.Release(tracked);
            }
        }
    }

    /// <summary>The most one command moves: the device's MDTS in whole LBAs, at least one LBA.</summary>
    private int ChunkBytes => Math.Max(Device.LbaSize, Device.MaxTransferBytes / Device.LbaSize * Device.LbaSize);

    /// <summary>One block: a single command when the device takes it whole (the usual case), else <see cref="TransferAsync"/>.</summary>
    private ValueTask Transfer(byte[] buffer, long offset, bool isRead)
    {
        if (buffer.Length > ChunkBytes)
        {
            return TransferAsync(buffer, offset, isRead);
        }

        var lba = (ulong)(offset / Device.LbaSize);
        return isRead ? Device.ReadAsync(lba, buffer) : Device.WriteAsync(lba, buffer);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask TransferAsync(byte[] buffer, long offset, bool isRead)
    {
        var lbaSize = Device.LbaSize;
        var chunk = ChunkBytes;
        var done = 0;
        while (done < buffer.Length)
        {
            var count = Math.Min(chunk, buffer.Length - done);
            var lba = (ulong)((offset + done) / lbaSize);
            if (isRead)
            {
                await Device.ReadAsync(lba, buffer.AsMemory(done, count)).ConfigureAwait(false);
            }
            else
            {
                await Device.WriteAsync(lba, buffer.AsMemory(done, count)).ConfigureAwait(false);
            }

            done += count;
        }
    }

    private void CheckBlock(byte[] buffer, long offset, uint expected)
    {
        var failure = BenchVerifier.Check(buffer, (ulong)offset, expected, out var unwritten);
        if (unwritten)
        {
            Interlocked.Increment(ref _unwritten);
            return;
        }

        if (failure == VerifyFailure.None)
        {
            Interlocked.Increment(ref _verified);
            return;
        }

        Interlocked.Increment(ref _verifyErrors);
        Fail(offset, 84, failure.ToString());
    }

    /// <summary>Counts an error (EILSEQ 84 for verify, like fio) and stops the job unless continue_on_error.</summary>
    private void Fail(long offset, uint errno, string reason)
    {
        Interlocked.CompareExchange(ref _firstErrno, (int)errno, 0);
        lock (_failures)
        {
            if (_failures.Count < MaxRecordedFailures)
            {
                _failures.Add((offset, reason));
            }
        }

        if (!Job.ContinueOnError)
        {
            _stop = true;
        }
    }

    private static ulong Next(ref ulong state)
    {
        // xorshift64*: cheap, allocation-free and reproducible from randseed.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        return state * 0x2545F4914F6CDD1DUL;
    }
}
