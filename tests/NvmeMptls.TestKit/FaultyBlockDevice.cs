using NvmeMptls.Target.Namespaces;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.TestKit;

/// <summary>Injects media errors on a device, whichever side of the wire it sits on.</summary>
public interface IFaultInjector
{
    /// <summary>Makes every command touching <paramref name="lba"/> in the given direction fail with <paramref name="status"/>.</summary>
    void InjectError(ulong lba, NvmeStatus status, InjectOn on = InjectOn.Both);
}

/// <summary>
/// A target-side namespace backend (memory) whose chosen blocks fail with an I/O error, the way a bad disk sector
/// does. The target turns that into an NVMe status itself (reads: Unrecovered Read Error, writes: Write Fault),
/// so an initiator test sees a media error that really crossed NVMe/TCP.
/// </summary>
public sealed class FaultyBlockDevice : IBlockDevice, IFaultInjector
{
    private readonly MemoryBlockDevice _inner;
    private readonly Lock _gate = new();
    private readonly Dictionary<long, InjectOn> _faults = [];

    public FaultyBlockDevice(long sizeBytes, int logicalBlockSize = 512)
    {
        _inner = new MemoryBlockDevice(sizeBytes, logicalBlockSize);
    }

    public string Kind => "faulty-memory";

    /// <summary>A fault lookup and a memory copy: never blocks, so commands stay on the receiving thread as with memory.</summary>
    public bool CompletesInline => true;

    public string Description => "memory with injected media errors";

    public long SizeBytes => _inner.SizeBytes;

    public int LogicalBlockSize => _inner.LogicalBlockSize;

    /// <inheritdoc />
    /// <remarks>The status must be the one the target reports for that direction; anything else could not cross the wire.</remarks>
    public void InjectError(ulong lba, NvmeStatus status, InjectOn on = InjectOn.Both)
    {
        ushort code = status.Code;
        bool readOk = (on & InjectOn.Read) == 0 || code == NvmeStatusCodes.UnrecoveredReadError;
        bool writeOk = (on & InjectOn.Write) == 0 || code == NvmeStatusCodes.WriteFault;
        if (!readOk || !writeOk)
        {
            throw new ArgumentException($"the target reports a failed read as Unrecovered Read Error and a failed write as Write Fault, not 0x{code:x3}", nameof(status));
        }

        lock (_gate)
        {
            _faults[(long)lba] = on;
        }
    }

    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        Check(offset, destination.Length, InjectOn.Read);
        return _inner.ReadAsync(offset, destination, cancellationToken);
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool forceUnitAccess, CancellationToken cancellationToken = default)
    {
        Check(offset, source.Length, InjectOn.Write);
        return _inner.WriteAsync(offset, source, forceUnitAccess, cancellationToken);
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => _inner.FlushAsync(cancellationToken);

    public ValueTask WriteZeroesAsync(long offset, long length, bool deallocate, CancellationToken cancellationToken = default) =>
        _inner.WriteZeroesAsync(offset, length, deallocate, cancellationToken);

    public ValueTask DeallocateAsync(long offset, long length, CancellationToken cancellationToken = default) =>
        _inner.DeallocateAsync(offset, length, cancellationToken);

    public ValueTask DisposeAsync() => _inner.DisposeAsync();

    private void Check(long offset, long length, InjectOn direction)
    {
        long first = offset / LogicalBlockSize;
        long last = (offset + length - 1) / LogicalBlockSize;
        lock (_gate)
        {
            foreach (var (lba, on) in _faults)
            {
                if (lba >= first && lba <= last && (on & direction) != 0)
                {
                    throw new IOException($"injected media error at LBA {lba}");
                }
            }
        }
    }
}
