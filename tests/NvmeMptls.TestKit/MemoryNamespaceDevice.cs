using NvmeMptls.Initiator;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.TestKit;

/// <summary>Which directions an injected status applies to.</summary>
[Flags]
public enum InjectOn
{
    Read = 1,
    Write = 2,
    Both = Read | Write,
}

/// <summary>
/// An <see cref="INamespaceDevice"/> backed by a byte array, for tests that run before (and beside) the real
/// NVMe client. It enforces what a controller would: whole blocks only, ranges inside the namespace, transfers
/// no larger than <see cref="MaxTransferBytes"/>. Chosen LBAs can be made to fail with an NVMe status.
/// All members are thread-safe; each command is atomic with respect to the others.
/// </summary>
public sealed class MemoryNamespaceDevice : INamespaceDevice, IFaultInjector
{
    private readonly byte[] _data;
    private readonly object _dataLock = new();
    private readonly object _faultLock = new();
    private readonly Dictionary<ulong, (NvmeStatus Status, InjectOn On)> _faults = new();
    private long _reads;
    private long _writes;
    private long _flushes;
    private long _zeroes;
    private long _deallocates;

    public MemoryNamespaceDevice(long sizeBytes, int lbaSize = 512, int maxTransferBytes = 128 * 1024, uint nsid = 1)
    {
        if (lbaSize is not (512 or 4096))
        {
            throw new ArgumentOutOfRangeException(nameof(lbaSize), lbaSize, "LBA size must be 512 or 4096");
        }

        if (sizeBytes <= 0 || sizeBytes % lbaSize != 0 || sizeBytes > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, "size must be a positive multiple of the LBA size that fits one array");
        }

        if (maxTransferBytes < lbaSize || maxTransferBytes % lbaSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxTransferBytes), maxTransferBytes, "max transfer must be a multiple of the LBA size");
        }

        _data = new byte[sizeBytes];
        LbaSize = lbaSize;
        MaxTransferBytes = maxTransferBytes;
        Nsid = nsid;
    }

    public uint Nsid { get; }

    public int LbaSize { get; }

    public ulong BlockCount => (ulong)_data.Length / (ulong)LbaSize;

    public int MaxTransferBytes { get; }

    /// <summary>Fails with <see cref="NvmeStatusCodes.NamespaceWriteProtected"/> on every write when set.</summary>
    public bool WriteProtected { get; set; }

    public long ReadCommands => Interlocked.Read(ref _reads);

    public long WriteCommands => Interlocked.Read(ref _writes);

    public long FlushCommands => Interlocked.Read(ref _flushes);

    public long WriteZeroesCommands => Interlocked.Read(ref _zeroes);

    public long DeallocateCommands => Interlocked.Read(ref _deallocates);

    /// <summary>Makes every command touching <paramref name="lba"/> in the given direction fail with <paramref name="status"/>.</summary>
    public void InjectError(ulong lba, NvmeStatus status, InjectOn on = InjectOn.Both)
    {
        lock (_faultLock)
        {
            _faults[lba] = (status, on);
        }
    }

    public void ClearErrors()
    {
        lock (_faultLock)
        {
            _faults.Clear();
        }
    }

    /// <summary>A copy of the bytes at <paramref name="offset"/>, bypassing fault injection (for assertions).</summary>
    public byte[] Snapshot(long offset, int length)
    {
        lock (_dataLock)
        {
            return _data.AsSpan((int)offset, length).ToArray();
        }
    }

    public ValueTask ReadAsync(ulong lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Interlocked.Increment(ref _reads);
        var (start, length) = CheckTransfer(lba, buffer.Length);
        CheckFault(lba, (ulong)(length / LbaSize), InjectOn.Read);
        lock (_dataLock)
        {
            _data.AsSpan(start, length).CopyTo(buffer.Span);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask WriteAsync(ulong lba, ReadOnlyMemory<byte> data, bool forceUnitAccess = false, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Interlocked.Increment(ref _writes);
        var (start, length) = CheckTransfer(lba, data.Length);
        CheckWritable();
        CheckFault(lba, (ulong)(length / LbaSize), InjectOn.Write);
        lock (_dataLock)
        {
            data.Span.CopyTo(_data.AsSpan(start, length));
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Interlocked.Increment(ref _flushes);
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteZeroesAsync(ulong lba, uint blocks, bool deallocate = false, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Interlocked.Increment(ref _zeroes);
        ZeroRange(lba, blocks);
        return ValueTask.CompletedTask;
    }

    public ValueTask DeallocateAsync(ulong lba, uint blocks, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Interlocked.Increment(ref _deallocates);

        // Deallocated blocks read back as zeroes here (DLFEAT "read zeroes"), which is what NBD trim expects at most.
        ZeroRange(lba, blocks);
        return ValueTask.CompletedTask;
    }

    private void ZeroRange(ulong lba, uint blocks)
    {
        CheckRange(lba, blocks);
        CheckWritable();
        CheckFault(lba, blocks, InjectOn.Write);
        lock (_dataLock)
        {
            _data.AsSpan((int)(lba * (ulong)LbaSize), (int)(blocks * (ulong)LbaSize)).Clear();
        }
    }

    /// <summary>A status from one of <see cref="NvmeStatusCodes"/> (SCT in bits 10:8), with DNR set.</summary>
    public static NvmeStatus Status(ushort code) => new((ushort)(code | NvmeStatus.DnrBit));

    private (int Start, int Length) CheckTransfer(ulong lba, int length)
    {
        if (length == 0 || length % LbaSize != 0 || length > MaxTransferBytes)
        {
            throw new NvmeStatusException(Status(NvmeStatusCodes.SglInvalidDataLength), "memory device transfer length");
        }

        CheckRange(lba, (ulong)(length / LbaSize));
        return ((int)(lba * (ulong)LbaSize), length);
    }

    private void CheckRange(ulong lba, ulong blocks)
    {
        if (blocks == 0 || lba >= BlockCount || blocks > BlockCount - lba)
        {
            throw new NvmeStatusException(Status(NvmeStatusCodes.LbaOutOfRange), "memory device range");
        }
    }

    private void CheckWritable()
    {
        if (WriteProtected)
        {
            throw new NvmeStatusException(Status(NvmeStatusCodes.NamespaceWriteProtected), "memory device");
        }
    }

    private void CheckFault(ulong lba, ulong blocks, InjectOn direction)
    {
        lock (_faultLock)
        {
            if (_faults.Count == 0)
            {
                return;
            }

            foreach (var fault in _faults)
            {
                if (fault.Key >= lba && fault.Key - lba < blocks && (fault.Value.On & direction) != 0)
                {
                    throw new NvmeStatusException(fault.Value.Status, "injected");
                }
            }
        }
    }
}
