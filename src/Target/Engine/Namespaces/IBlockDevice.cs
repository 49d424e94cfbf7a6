namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// The storage behind one namespace: a file, a block device or memory. Offsets and lengths are in bytes and
/// are always multiples of <see cref="LogicalBlockSize"/>; the caller has range-checked them.
/// Implementations are safe for concurrent calls and never allocate per call. Hosts may overlap commands; the
/// namespace reports AWUN = 0, so a block read while a racing write or deallocate changes it must come back all old or all
/// new. Memory enforces this itself (a seqlock per stripe). Files and block devices give what the kernel gives: a
/// device's sector writes are atomic, but Linux does not lock a page-cache page between a buffered read and a racing
/// write of it. RBD writes within one RADOS object are atomic.
/// </summary>
public interface IBlockDevice : IAsyncDisposable
{
    /// <summary>A descriptive label ("memory", "file", "block") for logs; nothing branches on it.</summary>
    string Kind { get; }

    /// <summary>
    /// True when every call finishes without blocking the calling thread (memory; RBD, whose calls only queue a
    /// librbd request and complete from its callback): the target then runs the command on the thread that received it. False for devices that block in pread/pwrite (file, block device):
    /// their commands go to the thread pool so the connection keeps receiving the next capsules meanwhile.
    /// </summary>
    bool CompletesInline { get; }

    /// <summary>Human-readable location (path, or "memory").</summary>
    string Description { get; }

    long SizeBytes { get; }

    /// <summary>
    /// Raised after <see cref="SizeBytes"/> changed (an RBD image resized by its owner); the namespace then announces
    /// a Namespace Attribute Changed notice. Devices whose size is fixed never raise it.
    /// </summary>
    event Action<IBlockDevice>? SizeChanged
    {
        add { }
        remove { }
    }

    /// <summary>512 or 4096.</summary>
    int LogicalBlockSize { get; }

    ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default);

    /// <summary>Writes; with <paramref name="forceUnitAccess"/> the data is durable before the call returns.</summary>
    ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool forceUnitAccess, CancellationToken cancellationToken = default);

    /// <summary>Makes every completed write durable.</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>Zeroes a range; with <paramref name="deallocate"/> the range may be unmapped (reads still return zeroes).</summary>
    ValueTask WriteZeroesAsync(long offset, long length, bool deallocate, CancellationToken cancellationToken = default);

    /// <summary>Deallocates (trims) a range: file namespaces punch a hole; afterwards the range reads as zeroes.</summary>
    ValueTask DeallocateAsync(long offset, long length, CancellationToken cancellationToken = default);
}
