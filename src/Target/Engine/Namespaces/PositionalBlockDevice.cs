using Microsoft.Extensions.Logging;

namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// What the file and block-device namespaces share: the I/O engine (<see cref="IoEngine"/>), range and read-only
/// checks. Reads, writes and flushes go through the device's own io_uring (<see cref="IoUringFile"/>) when it has
/// one, else through pread/pwrite on <see cref="PositionalFile"/> with FUA through its write-through handle. Each
/// backend adds its own way to deallocate and zero (synchronous calls on the positional handles; with io_uring they
/// run on the thread pool so the receiving thread never blocks).
/// </summary>
public abstract class PositionalBlockDevice : IBlockDevice
{
    private readonly IoUringFile? _ring;

    private protected PositionalBlockDevice(string path, PositionalFile file, long sizeBytes, int logicalBlockSize, ILogger logger, IoEngine engine = IoEngine.Positional)
    {
        Path = path;
        Storage = file;
        SizeBytes = sizeBytes;
        LogicalBlockSize = logicalBlockSize;
        Logger = logger;
        Engine = "positional";
        if (engine == IoEngine.Positional)
        {
            NamespaceLog.PositionalEngine(logger, path);
        }
        else if (!OperatingSystem.IsLinux())
        {
            Engine = "positional (io_uring needs Linux)";
            NamespaceLog.IoUringUnavailable(logger, path, "not Linux");
        }
        else
        {
            _ring = IoUringFile.TryOpen(path, file.IsReadOnly, direct: true, logicalBlockSize, logger, out string reason);
            if (_ring is null)
            {
                Engine = $"positional (io_uring unavailable: {reason})";
                NamespaceLog.IoUringUnavailable(logger, path, reason);
            }
            else
            {
                Engine = _ring.Direct ? "io_uring, O_DIRECT" : "io_uring, buffered";
                NamespaceLog.IoUringEngine(logger, path, Engine, _ring.Capacity);
            }
        }
    }

    public abstract string Kind { get; }

    /// <summary>
    /// With io_uring, calls only queue a submission and complete from the ring's reaping thread; pread/pwrite
    /// block the calling thread until the kernel is done.
    /// </summary>
    public bool CompletesInline => _ring is not null;

    /// <summary>The engine in use, as logged: "io_uring, O_DIRECT", "io_uring, buffered", "positional" or "positional (io_uring unavailable: ...)".</summary>
    public string Engine { get; }

    /// <summary>True when reads and writes go through io_uring.</summary>
    public bool UsesIoUring => _ring is not null;

    /// <summary>True when io_uring opened the storage with O_DIRECT.</summary>
    public bool UsesDirectIo => _ring is { Direct: true };

    private protected IoUringFile? Ring => _ring;

    /// <summary>io_uring_enter calls that submitted entries, and the entries they took (zeros without io_uring).</summary>
    internal (long Calls, long Entries) RingSubmissions => _ring is null ? default : (_ring.SubmitCalls, _ring.EntriesSubmitted);

    public string Description => Path;

    public string Path { get; }

    public long SizeBytes { get; }

    public int LogicalBlockSize { get; }

    public bool IsReadOnly => Storage.IsReadOnly;

    private protected PositionalFile Storage { get; }

    private protected ILogger Logger { get; }

    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        CheckRange(offset, destination.Length);
        if (_ring is not null)
        {
            return _ring.ReadAsync(offset, destination);
        }

        Storage.Read(offset, destination.Span);
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool forceUnitAccess, CancellationToken cancellationToken = default)
    {
        CheckRange(offset, source.Length);
        if (_ring is not null)
        {
            if (Storage.IsReadOnly)
            {
                throw new InvalidOperationException("the namespace is read-only");
            }

            return _ring.WriteAsync(offset, source, forceUnitAccess);
        }

        Storage.Write(offset, source.Span, forceUnitAccess);
        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_ring is not null && !Storage.IsReadOnly)
        {
            return _ring.FlushAsync();
        }

        Storage.Flush();
        return ValueTask.CompletedTask;
    }

    public abstract ValueTask WriteZeroesAsync(long offset, long length, bool deallocate, CancellationToken cancellationToken = default);

    public abstract ValueTask DeallocateAsync(long offset, long length, CancellationToken cancellationToken = default);

    public ValueTask DisposeAsync()
    {
        _ring?.Dispose();
        Storage.Dispose();
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Runs a synchronous zeroing or unmapping call: right here with the positional engine (already on the thread
    /// pool), on the thread pool with io_uring (the caller is the receiving thread). Rare commands; the task they
    /// allocate is not on the read/write path.
    /// </summary>
    private protected ValueTask RunBlocking(Action<PositionalBlockDevice, long, long> operation, long offset, long length)
    {
        if (_ring is null)
        {
            operation(this, offset, length);
            return ValueTask.CompletedTask;
        }

        return new ValueTask(Task.Factory.StartNew(
            static state =>
            {
                var (device, op, start, count) = ((PositionalBlockDevice, Action<PositionalBlockDevice, long, long>, long, long))state!;
                op(device, start, count);
            },
            (this, operation, offset, length), CancellationToken.None, TaskCreationOptions.DenyChildAttach, TaskScheduler.Default));
    }

    private protected void CheckWritableRange(long offset, long length)
    {
        CheckRange(offset, length);
        if (Storage.IsReadOnly)
        {
            throw new InvalidOperationException("the namespace is read-only");
        }
    }

    private protected void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > SizeBytes - length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"range {offset}+{length} is outside the {SizeBytes}-byte namespace");
        }
    }
}
