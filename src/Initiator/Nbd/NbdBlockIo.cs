using System.Runtime.CompilerServices;
using NvmeMptls.Initiator;

namespace NvmeMptls.Initiator.Nbd;

/// <summary>
/// Maps byte ranges of NBD requests onto whole-LBA device commands. Partial first and last blocks are served by
/// read-modify-write through the request's one-block scratch buffer; the whole-block middle goes straight to the
/// device in chunks of at most <see cref="INamespaceDevice.MaxTransferBytes"/>. Read-modify-write holds a striped
/// lock on the LBA so two sub-block writes into one block (legal, they do not overlap in bytes) cannot lose each other.
/// One instance per server: every device is a queue of the same namespace.
/// </summary>
internal sealed class NbdBlockIo
{
    /// <summary>NVMe NLB is a 16-bit zero-based count; zero and deallocate ranges are cut to this.</summary>
    private const uint MaxBlocksPerCommand = 65536;

    private readonly SemaphoreSlim[] _stripes;

    public NbdBlockIo(int stripes = 64)
    {
        _stripes = new SemaphoreSlim[stripes];
        for (var i = 0; i < stripes; i++)
        {
            _stripes[i] = new SemaphoreSlim(1, 1);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public static async ValueTask ReadAsync(INamespaceDevice device, NbdRequest request, CancellationToken cancellationToken)
    {
        var lbaSize = (ulong)device.LbaSize;
        var maxChunk = MaxChunk(device);
        var position = request.Offset;
        var end = request.Offset + request.Length;
        var done = 0;
        var data = request.Data;
        var head = (int)(position % lbaSize);
        if (head != 0)
        {
            var count = (int)Math.Min(lbaSize - (ulong)head, end - position);
            request.ErrorOffset = position;
            await device.ReadAsync(position / lbaSize, request.Scratch, cancellationToken).ConfigureAwait(false);
            request.Scratch.AsSpan(head, count).CopyTo(data.Span.Slice(done, count));
            position += (ulong)count;
            done += count;
        }

        while (end - position >= lbaSize)
        {
            var count = (int)Math.Min(maxChunk, (end - position) / lbaSize * lbaSize);
            request.ErrorOffset = position;
            await device.ReadAsync(position / lbaSize, data.Slice(done, count), cancellationToken).ConfigureAwait(false);
            position += (ulong)count;
            done += count;
        }

        if (position < end)
        {
            var count = (int)(end - position);
            request.ErrorOffset = position;
            await device.ReadAsync(position / lbaSize, request.Scratch, cancellationToken).ConfigureAwait(false);
            request.Scratch.AsSpan(0, count).CopyTo(data.Span.Slice(done, count));
        }
    }

    /// <summary>Writes the request's data, or zeroes when <paramref name="zeroes"/> (then NO_HOLE picks write-without-deallocate).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteAsync(INamespaceDevice device, NbdRequest request, bool zeroes, CancellationToken cancellationToken)
    {
        var lbaSize = (ulong)device.LbaSize;
        var maxChunk = MaxChunk(device);
        var fua = (request.Flags & NbdCommandFlags.Fua) != 0;
        var position = request.Offset;
        var end = request.Offset + request.Length;
        var done = 0;
        var head = (int)(position % lbaSize);
        if (head != 0)
        {
            var count = (int)Math.Min(lbaSize - (ulong)head, end - position);
            await ModifyBlockAsync(device, request, position / lbaSize, head, count, zeroes ? -1 : done, fua, cancellationToken).ConfigureAwait(false);
            position += (ulong)count;
            done += count;
        }

        if (zeroes)
        {
            var deallocate = (request.Flags & NbdCommandFlags.NoHole) == 0;
            while (end - position >= lbaSize)
            {
                var blocks = (uint)Math.Min(MaxBlocksPerCommand, (end - position) / lbaSize);
                request.ErrorOffset = position;
                await device.WriteZeroesAsync(position / lbaSize, blocks, deallocate, cancellationToken).ConfigureAwait(false);
                position += blocks * lbaSize;
            }
        }
        else
        {
            while (end - position >= lbaSize)
            {
                var count = (int)Math.Min(maxChunk, (end - position) / lbaSize * lbaSize);
                request.ErrorOffset = position;
                await device.WriteAsync(position / lbaSize, request.Data.Slice(done, count), fua, cancellationToken).ConfigureAwait(false);
                position += (ulong)count;
                done += count;
            }
        }

        if (position < end)
        {
            var count = (int)(end - position);
            await ModifyBlockAsync(device, request, position / lbaSize, 0, count, zeroes ? -1 : done, fua, cancellationToken).ConfigureAwait(false);
        }

        // Write Zeroes carries no FUA bit through INamespaceDevice; a flush gives the same durability.
        if (zeroes && fua)
        {
            await device.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Deallocates the whole blocks inside the range; partial edge blocks are left alone (trim is advisory).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public static async ValueTask TrimAsync(INamespaceDevice device, NbdRequest request, CancellationToken cancellationToken)
    {
        var lbaSize = (ulong)device.LbaSize;
        var position = (request.Offset + lbaSize - 1) / lbaSize * lbaSize;
        var end = (request.Offset + request.Length) / lbaSize * lbaSize;
        while (position < end)
        {
            var blocks = (uint)Math.Min(MaxBlocksPerCommand, (end - position) / lbaSize);
            request.ErrorOffset = position;
            await device.DeallocateAsync(position / lbaSize, blocks, cancellationToken).ConfigureAwait(false);
            position += blocks * lbaSize;
        }

        if ((request.Flags & NbdCommandFlags.Fua) != 0)
        {
            await device.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Read-modify-write of one block: <paramref name="sourceAt"/> &lt; 0 writes zeroes instead of request data.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ModifyBlockAsync(
        INamespaceDevice device, NbdRequest request, ulong lba, int inBlock, int count, int sourceAt, bool fua, CancellationToken cancellationToken)
    {
        var stripe = _stripes[(int)(lba % (ulong)_stripes.Length)];
        request.ErrorOffset = lba * (ulong)device.LbaSize;
        await stripe.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await device.ReadAsync(lba, request.Scratch, cancellationToken).ConfigureAwait(false);
            if (sourceAt < 0)
            {
                request.Scratch.AsSpan(inBlock, count).Clear();
            }
            else
            {
                request.Data.Span.Slice(sourceAt, count).CopyTo(request.Scratch.AsSpan(inBlock));
            }

            await device.WriteAsync(lba, request.Scratch, fua, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            stripe.Release();
        }
    }

    private static ulong MaxChunk(INamespaceDevice device)
    {
        var lbaSize = device.LbaSize;
        return (ulong)Math.Max(lbaSize, device.MaxTransferBytes / lbaSize * lbaSize);
    }
}
