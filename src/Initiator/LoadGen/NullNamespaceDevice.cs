namespace NvmeMptls.Initiator.LoadGen;

/// <summary>
/// fio's null engine for <c>nvme-mptls bench --ioengine=null</c>: a device of <see cref="BlockCount"/> 512-byte blocks
/// where every command completes at once, synchronously, without touching the buffer. What a job costs against it
/// is the load generator's own cost per I/O (offsets, latency clock, histogram, accounting), the floor under every
/// figure measured against a real target.
/// </summary>
public sealed class NullNamespaceDevice : INamespaceDevice
{
    /// <summary>A device of <paramref name="bytes"/> (rounded down to whole blocks, at least one block).</summary>
    public NullNamespaceDevice(long bytes)
    {
        BlockCount = (ulong)Math.Max(1, bytes / 512);
    }

    public uint Nsid => 1;

    public int LbaSize => 512;

    public ulong BlockCount { get; }

    public int MaxTransferBytes => 1 << 20;

    public ValueTask ReadAsync(ulong lba, Memory<byte> buffer, CancellationToken cancellationToken = default) => Check(lba, buffer.Length);

    public ValueTask WriteAsync(ulong lba, ReadOnlyMemory<byte> data, bool forceUnitAccess = false, CancellationToken cancellationToken = default) => Check(lba, data.Length);

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    public ValueTask WriteZeroesAsync(ulong lba, uint blocks, bool deallocate = false, CancellationToken cancellationToken = default) => Check(lba, (long)blocks * 512);

    public ValueTask DeallocateAsync(ulong lba, uint blocks, CancellationToken cancellationToken = default) => Check(lba, (long)blocks * 512);

    /// <summary>Out of range is still an error, as on a namespace (LBA Out of Range); nothing else can fail.</summary>
    private ValueTask Check(ulong lba, long bytes) =>
        lba + (ulong)((bytes + 511) / 512) <= BlockCount
            ? ValueTask.CompletedTask
            : ValueTask.FromException(new ArgumentOutOfRangeException(nameof(lba), $"blocks {lba}+{(bytes + 511) / 512} beyond the null device's {BlockCount}"));
}
