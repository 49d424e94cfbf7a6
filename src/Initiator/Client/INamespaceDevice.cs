namespace NvmeMptls.Initiator;

/// <summary>
/// One remote namespace as a block device: what the NBD export and the load generator drive.
/// Block addresses and counts are in logical blocks of <see cref="LbaSize"/> bytes.
/// Failures surface as <see cref="NvmeMptls.Transport.Nvme.NvmeStatusException"/> (the command's status)
/// or <see cref="IOException"/> (the controller was lost beyond its loss timeout).
/// </summary>
public interface INamespaceDevice
{
    /// <summary>Namespace identifier.</summary>
    uint Nsid { get; }

    /// <summary>Logical block size in bytes (512 or 4096).</summary>
    int LbaSize { get; }

    /// <summary>Namespace size in logical blocks.</summary>
    ulong BlockCount { get; }

    /// <summary>Largest transfer one command may carry, in bytes.</summary>
    int MaxTransferBytes { get; }

    /// <summary>Reads <c>buffer.Length / LbaSize</c> blocks starting at <paramref name="lba"/>.</summary>
    ValueTask ReadAsync(ulong lba, Memory<byte> buffer, CancellationToken cancellationToken = default);

    /// <summary>Writes <c>data.Length / LbaSize</c> blocks starting at <paramref name="lba"/>; FUA makes them durable first.</summary>
    ValueTask WriteAsync(ulong lba, ReadOnlyMemory<byte> data, bool forceUnitAccess = false, CancellationToken cancellationToken = default);

    /// <summary>Flushes the namespace's volatile write cache.</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);

    /// <summary>Zeroes <paramref name="blocks"/> blocks, optionally deallocating them.</summary>
    ValueTask WriteZeroesAsync(ulong lba, uint blocks, bool deallocate = false, CancellationToken cancellationToken = default);

    /// <summary>Deallocates (trims) <paramref name="blocks"/> blocks (Dataset Management, AD).</summary>
    ValueTask DeallocateAsync(ulong lba, uint blocks, CancellationToken cancellationToken = default);
}
