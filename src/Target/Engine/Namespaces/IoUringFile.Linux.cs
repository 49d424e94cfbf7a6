using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// A file or block device driven through its own io_uring: reads, writes (FUA as RWF_DSYNC), fsync and fallocate
/// are queued as submissions and finish on one reaping thread that blocks in io_uring_enter(GETEVENTS), so no
/// thread waits per I/O. The reaper handles each batch of completions inside a <see cref="CompletionBatch"/>, so the
/// answers go out from its thread once per batch and connection. Opened with O_DIRECT when the file system allows it
/// (else buffered, said in the log).
/// <para>
/// Submissions are batched: a caller writes its entry under the lock and, unless another caller is already inside
/// io_uring_enter, submits every entry prepared so far; callers that arrive meanwhile only add theirs. At most
/// <see cref="Capacity"/> requests are in the kernel at once (so neither ring can overflow); more wait in an
/// intrusive list and go in as slots free up — back-pressure, never a dropped request. Inside a
/// <see cref="SubmissionBatch"/> scope an entry only goes into the ring, and the batch's flush at the end of the
/// receive burst enters the kernel once for all of them.
/// </para>
/// </summary>
internal sealed class IoUringFile : IDisposable
{
    public const uint DefaultEntries = 256;

    private readonly IoUring _ring;
    private readonly SafeFileHandle _handle;
    private readonly int _fd;
    private readonly ILogger _logger;
    private readonly object _lock = new();
    private readonly Stack<IoUringOperation> _pool = new();
    private readonly List<IoUringOperation> _all = [];
    private readonly Thread _reaper;
    private IoUringOperation? _waitingHead;
    private IoUringOperation? _waitingTail;
    private int _inFlight;
    private long _submitCalls;
    private long _entriesSubmitted;
    private uint _unsubmitted;
    private bool _submitting;
    private bool _closed;

    private IoUringFile(IoUring ring, SafeFileHandle handle, string path, bool direct, int memoryAlignment, ILogger logger)
    {
        _ring = ring;
        _handle = handle;
        _fd = (int)handle.DangerousGetHandle();
        Path = path;
        Direct = direct;
        MemoryAlignment = memoryAlignment;
        // One submission entry stays free for the wake-up NOP of Close, which must fit beside every held-back entry.
        Capacity = (int)ring.SqEntries - 1;
        _logger = logger;
        _reaper = new Thread(ReapLoop) { IsBackground = true, Name = "io_uring reaper" };
        _reaper.Start();
    }

    public string Path { get; }

    /// <summary>Opened with O_DIRECT (no page cache).</summary>
    public bool Direct { get; }

    /// <summary>Address alignment a buffer needs to be used in place (1 when buffered).</summary>
    public int MemoryAlignment { get; }

    /// <summary>Requests in the kernel (or prepared for it) at most, one less than the ring's entries; further ones wait for a slot.</summary>
    public int Capacity { get; }

    /// <summary>Requests holding a slot now: in the kernel, or prepared and held back by a <see cref="SubmissionBatch"/> (tests, diagnostics).</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>io_uring_enter calls that handed entries to the kernel so far (with <see cref="EntriesSubmitted"/>: entries per call).</summary>
    public long SubmitCalls => Interlocked.Read(ref _submitCalls);

    /// <summary>Entries the kernel took so far.</summary>
    public long EntriesSubmitted => Interlocked.Read(ref _entriesSubmitted);

    /// <summary>
    /// Opens <paramref name="path"/> (which exists) with its own ring; null with the reason when io_uring is not
    /// available here (then the caller keeps to pread/pwrite). <paramref name="direct"/> asks for O_DIRECT, which is
    /// dropped (and logged) where the file system refuses it or needs a coarser offset alignment than <paramref name="logicalBlockSize"/>.
    /// </summary>
    public static IoUringFile? TryOpen(string path, bool readOnly, bool direct, int logicalBlockSize, ILogger logger, out string unavailableReason,
        uint entries = DefaultEntries)
    {
        IoUring? ring = null;
        try
        {
            ring = IoUring.TryCreate(entries, out int errno);
            if (ring is null)
            {
                unavailableReason = errno switch
                {
                    IoUringNative.ENOSYS => "io_uring_setup: ENOSYS, the kernel has no io_uring",
                    IoUringNative.EPERM => "io_uring_setup: EPERM, disabled by kernel.io_uring_disabled or a seccomp filter",
                    _ => $"io_uring_setup failed with errno {errno}",
                };
                return null;
            }

            int memoryAlignment = 1;
            int fd = -1;
            if (direct)
            {
                (int memAlign, int offsetAlign) = IoUringNative.DirectIoAlignment(path);
                if (offsetAlign > logicalBlockSize)
                {
                    NamespaceLog.DirectIoUnavailable(logger, path, $"the file system needs {offsetAlign}-byte aligned offsets, more than the {logicalBlockSize}-byte LBA");
                }
                else
                {
                    fd = IoUringNative.Open(path, readOnly, IoUringNative.O_DIRECT);
                    if (fd < 0)
                    {
                        NamespaceLog.DirectIoUnavailable(logger, path, $"open(O_DIRECT) failed with errno {-fd}");
                    }
                    else
                    {
                        // Unknown (kernel before 6.1): 512 bytes is what every Linux block device accepts.
                        memoryAlignment = memAlign > 0 ? memAlign : 512;
                    }
                }
            }

            if (fd < 0)
            {
                fd = IoUringNative.Open(path, readOnly, 0);
                if (fd < 0)
                {
                    throw new IOException($"opening {path} for io_uring failed with errno {-fd}");
                }
            }

            var handle = new SafeFileHandle(fd, ownsHandle: true);
            unavailableReason = "";
            var file = new IoUringFile(ring, handle, path, memoryAlignment > 1, memoryAlignment, logger);
            ring = null;
            return file;
        }
        finally
        {
            ring?.Dispose();
        }
    }

    public ValueTask ReadAsync(long offset, Memory<byte> destination) =>
        Rent().Start(IoUringRequest.Read, offset, destination.Length, destination, 0);

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool forceUnitAccess) =>
        Rent().Start(IoUringRequest.Write, offset, source.Length, System.Runtime.InteropServices.MemoryMarshal.AsMemory(source),
            forceUnitAccess ? (uint)IoUringNative.RWF_DSYNC : 0);

    /// <summary>fsync: every completed write, and the metadata that finds it, is durable.</summary>
    public ValueTask FlushAsync() => Rent().Start(IoUringRequest.Flush, 0, 0, default, 0);

    /// <summary>fallocate with <paramref name="mode"/> (FALLOC_FL_*); fails with an <see cref="IOException"/> carrying the errno.</summary>
    public ValueTask FallocateAsync(int mode, long offset, long length) => Rent().Start(IoUringRequest.Fallocate, offset, length, default, (uint)mode);

    /// <summary>Queues a started request: into the ring when a slot is free, else onto the waiting list.</summary>
    internal void Submit(IoUringOperation op)
    {
        // Inside a receive burst the entry only goes into the ring; the burst's end enters the kernel once for all.
        var batch = SubmissionBatch.Current;
        bool run;
        lock (_lock)
        {
            if (_closed)
            {
                run = false;
            }
            else if (_inFlight >= Capacity)
            {
                if (_waitingTail is null)
                {
                    _waitingHead = op;
                }
                else
                {
                    _waitingTail.NextWaiting = op;
                }

                _waitingTail = op;
                return;
            }
            else
            {
                _inFlight++;
                run = PrepareLocked(op, claim: batch is null);
                if (!run)
                {
                    batch?.Defer(this);
                    return;
                }
            }
        }

        if (run)
        {
            SubmitPending();
        }
        else
        {
            // The namespace is going away: the request fails with ObjectDisposedException (Namespace Not Ready).
            op.FailClosed();
        }
    }

    /// <summary>Submits the rest of a request that already holds a slot (short transfer, -EAGAIN, -EINTR).</summary>
    internal void Resubmit(IoUringOperation op)
    {
        lock (_lock)
        {
            if (!PrepareLocked(op))
            {
                return;
            }
        }

        SubmitPending();
    }

    /// <summary>A request left the kernel for good: its slot goes to the oldest waiting request, if any.</summary>
    internal void Release()
    {
        lock (_lock)
        {
            IoUringOperation? next = _waitingHead;
            if (next is null)
            {
                _inFlight--;
                return;
            }

            _waitingHead = next.NextWaiting;
            next.NextWaiting = null;
            if (_waitingHead is null)
            {
                _waitingTail = null;
            }

            if (!PrepareLocked(next))
            {
                return;
            }
        }

        SubmitPending();
    }

    /// <summary>Enters the kernel with the entries a <see cref="SubmissionBatch"/> held back (and any others prepared meanwhile).</summary>
    internal void SubmitDeferred()
    {
        lock (_lock)
        {
            if (_submitting || _unsubmitted == 0)
            {
                return; // the caller inside io_uring_enter takes them, or one already did
            }

            _submitting = true;
        }

        SubmitPending();
    }

    /// <summary>
    /// Writes the entry; true when this caller must now run the submit loop. With <paramref name="claim"/> false the
    /// entry only waits in the ring (for a <see cref="SubmissionBatch"/> flush, or for whoever enters the kernel next).
    /// </summary>
    private bool PrepareLocked(IoUringOperation op, bool claim = true)
    {
        op.Build(out IoUringSqe sqe, _fd);

        // Cannot fail: at most Capacity (SQ entries - 1) requests hold a slot, each has at most one entry queued, and
        // the one entry left is for Close's NOP.
        if (!_ring.TryPrepare(sqe))
        {
            throw new InvalidOperationException("io_uring submission queue full despite the in-flight limit");
        }

        _unsubmitted++;
        if (_submitting || !claim)
        {
            return false;
        }

        _submitting = true;
        return true;
    }

    /// <summary>io_uring_enter for every prepared entry, until no caller added more meanwhile.</summary>
    private void SubmitPending()
    {
        while (true)
        {
            uint count;
            lock (_lock)
            {
                count = _unsubmitted;
                if (count == 0)
                {
                    _submitting = false;
                    return;
                }

                _unsubmitted = 0;
            }

            while (count > 0)
            {
                int submitted = _ring.Submit(count);
                if (submitted > 0)
                {
                    Interlocked.Increment(ref _submitCalls);
                    Interlocked.Add(ref _entriesSubmitted, submitted);
                    count -= (uint)submitted;
                    continue;
                }

                if (submitted == 0)
                {
                    // Nothing left in the ring to take (cannot happen while the counts agree): never spin on it.
                    break;
                }

                // -EAGAIN/-EBUSY: the kernel is short of request memory or completions; -EINTR: a signal. Try again,
                // the entries stay in the ring. Anything else is logged and retried too: dropping is not an option.
                if (submitted != -IoUringNative.EINTR)
                {
                    if (submitted is not (-IoUringNative.EAGAIN or -IoUringNative.EBUSY))
                    {
                        NamespaceLog.IoUringEnterFailed(_logger, Path, -submitted);
                    }

                    Thread.Sleep(1);
                }
            }
        }
    }

    private IoUringOperation Rent()
    {
        lock (_lock)
        {
            if (_pool.TryPop(out IoUringOperation? op))
            {
                return op;
            }
        }

        var created = new IoUringOperation(this);
        lock (_lock)
        {
            _all.Add(created);
        }

        return created;
    }

    internal void Return(IoUringOperation op)
    {
        lock (_lock)
        {
            _pool.Push(op);
        }
    }

    internal Exception ToException(IoUringRequest request, long offset, long length, int errno) => request switch
    {
        IoUringRequest.Flush => new IOException($"io_uring fsync on {Path} failed with errno {errno}") { HResult = errno },
        _ => new IOException($"io_uring {request.ToString().ToLowerInvariant()} on {Path} at {offset}+{length} failed with errno {errno}") { HResult = errno },
    };

    private void ReapLoop()
    {
        bool wakeSeen = false;
        var answers = new CompletionBatch();
        while (true)
        {
            // The completions' answers are queued to their connections meanwhile and sent once the batch is handled.
            var previous = answers.Enter();
            int handled = 0;
            while (handled < CompletionBatch.MaxCompletions && _ring.TryPeek(out ulong userData, out int result))
            {
                handled++;
                _ring.Advance();
                if (userData == 0)
                {
                    // The wake-up NOP of Dispose: from now on the ring may go once nothing is in flight.
                    wakeSeen = true;
                    continue;
                }

                IoUringOperation.FromUserData(userData).OnCompleted(result);
            }

            CompletionBatch.Exit(previous);
            answers.Run();
            if (handled == CompletionBatch.MaxCompletions)
            {
                continue; // more may be posted already: no wait
            }

            if (wakeSeen && Volatile.Read(ref _inFlight) == 0)
            {
                // Nothing is in the kernel any more: the ring, the file and the operations' buffers can go.
                _ring.Dispose();
                _handle.Dispose();
                lock (_lock)
                {
                    foreach (IoUringOperation op in _all)
                    {
                        op.Free();
                    }

                    _all.Clear();
                    _pool.Clear();
                }

                return;
            }

            int rc = _ring.WaitForCompletion();
            if (rc < 0 && rc is not (-IoUringNative.EINTR or -IoUringNative.EAGAIN or -IoUringNative.EBUSY))
            {
                NamespaceLog.IoUringEnterFailed(_logger, Path, -rc);
                Thread.Sleep(1);
            }
        }
    }

    /// <summary>
    /// Refuses new requests, waits for those in the kernel (at most <paramref name="drainTimeout"/>), stops the reaper
    /// and closes the ring and the file.
    /// </summary>
    public void Dispose() => Close(TimeSpan.FromSeconds(30));

    private void Close(TimeSpan drainTimeout)
    {
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
        }

        // The reaper leaves (and frees the ring) only after it saw this NOP, so the ring is still mapped here.
        var wake = new IoUringSqe { Opcode = IoUringNative.IORING_OP_NOP, UserData = 0 };
        var spin = default(SpinWait);
        bool run;
        while (true)
        {
            lock (_lock)
            {
                // Cannot be full: at most Capacity (SQ entries - 1) entries are prepared, held back or not.
                if (_ring.TryPrepare(wake))
                {
                    _unsubmitted++;
                    run = !_submitting;
                    _submitting = true;
                    break;
                }
            }

            spin.SpinOnce();
        }

        if (run)
        {
            SubmitPending();
        }

        // From a completion's continuation (on the reaper itself) there is nothing to wait for: the reaper frees
        // everything once it returns to its loop.
        if (Thread.CurrentThread != _reaper && !_reaper.Join(drainTimeout))
        {
            NamespaceLog.IoUringDrainTimedOut(_logger, Path, InFlight);
        }

        // Requests still in the kernel after the timeout keep the ring, the file and their buffers alive (the reaper
        // frees them when the last one completes): a late release, never a use after free.
    }
}
