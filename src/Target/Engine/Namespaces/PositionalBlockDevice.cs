using Microsoft.Extensions.Logging;

namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// What the file and block-device namespaces share: pread/pwrite through <see cref="PositionalFile"/>, FUA through
/// its write-through handle, range and read-only checks. Each backend adds its own way to deallocate and zero.
/// </summary>
public abstract class PositionalBlockDevice : IBlockDevice
{
    private protected PositionalBlockDevice(string path, PositionalFile file, long sizeBytes, int logicalBlockSize, ILogger logger)
    {
        Path = path;
        Storage = file;
        SizeBytes = sizeBytes;
        LogicalBlockSize = logicalBlockSize;
        Logger = logger;
    }

    public abstract string Kind { get; }

    /// <summary>pread/pwrite block the calling thread until the kernel is done.</summary>
    public bool CompletesInline => false;

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
        Storage.Read(offset, destination.Span);
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool forceUnitAccess, CancellationToken cancellationToken = default)
    {
        CheckRange(offset, source.Length);
        Storage.Write(offset, source.Span, forceUnitAccess);
        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        Storage.Flush();
        return ValueTask.CompletedTask;
    }

    public abstract ValueTask WriteZeroesAsync(long offset, long length, bool deallocate, CancellationToken cancellationToken = default);

    public abstract ValueTask DeallocateAsync(long offset, long length, CancellationToken cancellationToken = default);

    public ValueTask DisposeAsync()
    {
        Storage.Dispose();
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
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
