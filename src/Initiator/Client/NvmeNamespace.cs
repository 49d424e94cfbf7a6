using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Initiator;

/// <summary>
/// One namespace of an <see cref="NvmeController"/> as a block device. Commands are spread over the
/// controller's I/O queues round robin; nothing is allocated per read or write.
/// </summary>
public sealed class NvmeNamespace : INamespaceDevice
{
    /// <summary>Upper bound of one command's transfer when the controller sets no MDTS.</summary>
    internal const int DefaultMaxTransferBytes = 1024 * 1024;

    private readonly NvmeController _controller;

    internal NvmeNamespace(NvmeController controller, uint nsid, NvmeNamespaceInfo identify)
    {
        _controller = controller;
        Nsid = nsid;
        Identify = identify;
        LbaSize = identify.LbaSize;
        BlockCount = identify.BlockCount;

        // MDTS is a power of two in units of the minimum page (CAP.MPSMIN, 4 KiB with MPSMIN 0); 0 = no limit.
        var mdts = controller.Identify.MaxDataTransferShift;
        var pageShift = ControllerRegisters.MinPageShift(controller.Capabilities);
        var limit = mdts == 0 || mdts + pageShift >= 31 ? DefaultMaxTransferBytes : Math.Min(DefaultMaxTransferBytes, 1 << (mdts + pageShift));
        MaxTransferBytes = Math.Min(limit, 65536 * LbaSize) / LbaSize * LbaSize;
    }

    /// <inheritdoc />
    public uint Nsid { get; }

    /// <summary>Identify Namespace data at open time.</summary>
    public NvmeNamespaceInfo Identify { get; }

    /// <inheritdoc />
    public int LbaSize { get; }

    /// <inheritdoc />
    public ulong BlockCount { get; }

    /// <inheritdoc />
    public int MaxTransferBytes { get; }

    /// <summary>The controller this namespace belongs to.</summary>
    public NvmeController Controller => _controller;

    /// <inheritdoc />
    public ValueTask ReadAsync(ulong lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!TryBlocks(buffer.Length, out var blocks))
        {
            return ValueTask.FromException(BadLength(buffer.Length));
        }

        return _controller.SubmitCheckedAsync(_controller.NextQueue(), Commands.ReadWrite(IoOpcodes.Read, Nsid, lba, blocks, false), buffer, default, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask WriteAsync(ulong lba, ReadOnlyMemory<byte> data, bool forceUnitAccess = false, CancellationToken cancellationToken = default)
    {
        if (!TryBlocks(data.Length, out var blocks))
        {
            return ValueTask.FromException(BadLength(data.Length));
        }

        return _controller.SubmitCheckedAsync(_controller.NextQueue(), Commands.ReadWrite(IoOpcodes.Write, Nsid, lba, blocks, forceUnitAccess), default, data, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) =>
        _controller.SubmitCheckedAsync(_controller.NextQueue(), Commands.Flush(Nsid), default, default, cancellationToken);

    /// <inheritdoc />
    public async ValueTask WriteZeroesAsync(ulong lba, uint blocks, bool deallocate = false, CancellationToken cancellationToken = default)
    {
        if (blocks is 0 or > 65536)
        {
            throw new ArgumentOutOfRangeException(nameof(blocks), blocks, "1..65536 blocks per Write Zeroes");
        }

        var completion = await _controller.SubmitAsync(_controller.NextQueue(), Commands.WriteZeroes(Nsid, lba, blocks, deallocate), default, default, cancellationToken).ConfigureAwait(false);
        ThrowOnError(completion.Status, IoOpcodes.WriteZeroes);
    }

    /// <inheritdoc />
    public async ValueTask DeallocateAsync(ulong lba, uint blocks, CancellationToken cancellationToken = default)
    {
        if (blocks == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(blocks), blocks, "at least one block");
        }

        // Reference §3.9: one 16-byte range; NLB is 1's based here.
        var range = ArrayPool<byte>.Shared.Rent(DsmRange.Size);
        try
        {
            new DsmRange(0, blocks, lba).Write(range);
            var completion = await _controller.SubmitAsync(_controller.NextQueue(), Commands.Deallocate(Nsid), default, range.AsMemory(0, DsmRange.Size), cancellationToken).ConfigureAwait(false);
            ThrowOnError(completion.Status, IoOpcodes.DatasetManagement);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(range);
        }
    }

    private bool TryBlocks(int length, out uint blocks)
    {
        blocks = (uint)(length / LbaSize);
        return length > 0 && length % LbaSize == 0 && length <= MaxTransferBytes;
    }

    private ArgumentException BadLength(int length) =>
        new($"transfer of {length} bytes must be a positive multiple of {LbaSize} up to {MaxTransferBytes}");

    internal static void ThrowOnError(NvmeStatus status, byte opcode)
    {
        if (!status.IsSuccess)
        {
            ThrowStatus(status, opcode);
        }
    }

    private static void ThrowStatus(NvmeStatus status, byte opcode) =>
        throw new NvmeStatusException(status, opcode switch
        {
            IoOpcodes.Read => "Read",
            IoOpcodes.Write => "Write",
            IoOpcodes.Flush => "Flush",
            IoOpcodes.WriteZeroes => "Write Zeroes",
            _ => "Dataset Management",
        });
}
