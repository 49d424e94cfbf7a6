namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// A sparse in-memory namespace. Storage is split into fixed-size chunks that are allocated on the first write
/// that touches them; a chunk never written reads as zeroes, and deallocate / write-zeroes that cover a whole
/// chunk give it back.
/// <para>
/// Hosts may send overlapping commands at once, and the namespace reports AWUN = 0 (one logical block written
/// atomically, NVMe base spec "Atomic Operations"): a read racing a write of the same block must see it all old or
/// all new, and two racing writes must leave one of them whole. Each stripe of <see cref="StripeSize"/> bytes has a
/// sequence word: a writer (write, zeroing, deallocate) makes it odd with a compare-exchange, copies, and makes it
/// even again, so writers of one stripe take turns; a reader copies without a lock and copies again if the word was
/// odd or changed meanwhile (a seqlock). Blocks never straddle stripes, so every block is copied whole.
/// </para>
/// </summary>
public sealed class MemoryBlockDevice : IBlockDevice
{
    /// <summary>1 MiB: large enough that the chunk table stays small (1024 slots per GiB), small enough to stay sparse.</summary>
    public const int DefaultChunkSize = 1 << 20;

    /// <summary>64 KiB, or the chunk if smaller: a 128 KiB read waits for, or retries after, a racing write of at most 64 KiB of it.</summary>
    public const int MaxStripeSize = 64 * 1024;

    /// <summary>Lock-free copies a read tries before it takes the stripe's turn.</summary>
    private const int OptimisticReads = 16;

    private readonly byte[]?[] _chunks;
    private readonly int[] _stripes;
    private readonly int _chunkShift;
    private readonly int _chunkMask;
    private readonly int _stripeShift;
    private long _allocatedChunks;
    private bool _disposed;

    public MemoryBlockDevice(long sizeBytes, int logicalBlockSize = 512, int chunkSize = DefaultChunkSize)
    {
        if (logicalBlockSize is not (512 or 4096))
        {
            throw new ArgumentOutOfRangeException(nameof(logicalBlockSize), logicalBlockSize, "must be 512 or 4096");
        }

        if (sizeBytes <= 0 || sizeBytes % logicalBlockSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, "must be a positive multiple of the logical block size");
        }

        if (chunkSize < logicalBlockSize || (chunkSize & (chunkSize - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(chunkSize), chunkSize, "must be a power of two no smaller than the logical block size");
        }

        long chunkCount = (sizeBytes + chunkSize - 1) / chunkSize;
        if (chunkCount > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, "too large for the chunk table");
        }

        SizeBytes = sizeBytes;
        LogicalBlockSize = logicalBlockSize;
        ChunkSize = chunkSize;
        _chunkShift = System.Numerics.BitOperations.Log2((uint)chunkSize);
        _chunkMask = chunkSize - 1;
        _chunks = new byte[]?[chunkCount];
        StripeSize = Math.Min(chunkSize, MaxStripeSize);
        _stripeShift = System.Numerics.BitOperations.Log2((uint)StripeSize);
        long stripeCount = (sizeBytes + StripeSize - 1) / StripeSize;
        if (stripeCount > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, "too large for the stripe table");
        }

        _stripes = new int[stripeCount];
    }

    public string Kind => "memory";

    /// <summary>Copies between arrays: never blocks.</summary>
    public bool CompletesInline => true;

    public string Description => "memory";

    public long SizeBytes { get; }

    public int LogicalBlockSize { get; }

    public int ChunkSize { get; }

    /// <summary>The unit of the write turn and the read retry: a power of two, a multiple of the block size, within one chunk.</summary>
    public int StripeSize { get; }

    /// <summary>Chunks currently backed by memory.</summary>
    public long AllocatedChunks => Interlocked.Read(ref _allocatedChunks);

    /// <summary>Bytes of chunk memory currently held.</summary>
    public long AllocatedBytes => AllocatedChunks * ChunkSize;

    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckRange(offset, destination.Length);
        Span<byte> span = destination.Span;
        while (!span.IsEmpty)
        {
            int count = Math.Min(span.Length, SegmentLength(offset));
            ReadStripe(offset, span[..count]);
            span = span[count..];
            offset += count;
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, bool forceUnitAccess, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckRange(offset, source.Length);
        ReadOnlySpan<byte> span = source.Span;
        while (!span.IsEmpty)
        {
            int count = Math.Min(span.Length, SegmentLength(offset));
            int index = (int)(offset >> _chunkShift);
            if (Volatile.Read(ref _chunks[index]) is null)
            {
                // Allocate (a zeroed chunk, maybe a GC) before taking the stripe, not while others spin on it; a
                // deallocate may still drop it before the turn, and the lookup inside the turn then allocates again.
                GetOrAllocateChunk(index);
            }

            ref int stripe = ref _stripes[offset >> _stripeShift];
            int sequence = EnterWriter(ref stripe);
            // Streamed past the cache (StreamingCopy) and fenced before the release below, so a reader that sees the
            // release sees the bytes.
            StreamingCopy.Copy(span[..count], GetOrAllocateChunk(index).AsSpan((int)(offset & _chunkMask), count));
            LeaveWriter(ref stripe, sequence);
            span = span[count..];
            offset += count;
        }

        // Memory is as durable as it gets: FUA has nothing further to do.
        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return ValueTask.CompletedTask;
    }

    public ValueTask WriteZeroesAsync(long offset, long length, bool deallocate, CancellationToken cancellationToken = default)
    {
        // Zeroing a whole chunk by dropping it is both cheaper and sparser, so deallocate changes nothing here.
        return DeallocateAsync(offset, length, cancellationToken);
    }

    public ValueTask DeallocateAsync(long offset, long length, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckRange(offset, length);
        long end = offset + length;
        while (offset < end)
        {
            int index = (int)(offset >> _chunkShift);
            int within = (int)(offset & _chunkMask);
            int chunkLength = ChunkLength(index);
            int count = (int)Math.Min(end - offset, chunkLength - within);
            if (within == 0 && count == chunkLength)
            {
                ReleaseChunk(index, offset, chunkLength);
            }
            else
            {
                ClearWithinChunk(offset, count);
            }

            offset += count;
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _disposed = true;
        Array.Clear(_chunks);
        Interlocked.Exchange(ref _allocatedChunks, 0);
        return ValueTask.CompletedTask;
    }

    private int ChunkLength(int index)
    {
        long start = (long)index << _chunkShift;
        return (int)Math.Min(ChunkSize, SizeBytes - start);
    }

    /// <summary>Bytes from <paramref name="offset"/> to the end of its stripe (stripes never cross a chunk or the end).</summary>
    private int SegmentLength(long offset)
    {
        long stripeEnd = Math.Min(((offset >> _stripeShift) + 1) << _stripeShift, SizeBytes);
        return (int)(stripeEnd - offset);
    }

    /// <summary>
    /// Copies one stripe's segment out, again if a writer held or took the stripe meanwhile. After
    /// <see cref="OptimisticReads"/> such tries (writes keep landing in the stripe) it takes the stripe's turn like a
    /// writer and copies under it, so a read is never starved by a stream of small writes.
    /// </summary>
    private void ReadStripe(long offset, Span<byte> destination)
    {
        ref int stripe = ref _stripes[offset >> _stripeShift];
        int index = (int)(offset >> _chunkShift);
        int within = (int)(offset & _chunkMask);
        var spin = default(SpinWait);
        for (int attempt = 0; ; attempt++)
        {
            if (attempt == OptimisticReads)
            {
                int held = EnterWriter(ref stripe);
                CopyOut(index, within, destination);
                LeaveWriter(ref stripe, held);
                return;
            }

            int before = Volatile.Read(ref stripe);
            if ((before & 1) == 0)
            {
                CopyOut(index, within, destination);

                // The copy's loads must be done before the second look at the word.
                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref stripe) == before)
                {
                    return;
                }
            }

            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    private void CopyOut(int index, int within, Span<byte> destination)
    {
        byte[]? chunk = Volatile.Read(ref _chunks[index]);
        if (chunk is null)
        {
            destination.Clear();
        }
        else
        {
            chunk.AsSpan(within, destination.Length).CopyTo(destination);
        }
    }

    /// <summary>Takes the stripe's write turn: from an even sequence to the next odd one. Returns the odd value.</summary>
    private static int EnterWriter(ref int stripe)
    {
        var spin = default(SpinWait);
        while (true)
        {
            int current = Volatile.Read(ref stripe);
            if ((current & 1) == 0 && Interlocked.CompareExchange(ref stripe, current + 1, current) == current)
            {
                return current + 1;
            }

            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Ends the write turn: the next even sequence, published after the copy's stores.</summary>
    private static void LeaveWriter(ref int stripe, int odd) => Volatile.Write(ref stripe, odd + 1);

    private void ClearWithinChunk(long offset, int count)
    {
        while (count > 0)
        {
            int segment = Math.Min(count, SegmentLength(offset));
            ref int stripe = ref _stripes[offset >> _stripeShift];
            int sequence = EnterWriter(ref stripe);
            Volatile.Read(ref _chunks[offset >> _chunkShift])?.AsSpan((int)(offset & _chunkMask), segment).Clear();
            LeaveWriter(ref stripe, sequence);
            offset += segment;
            count -= segment;
        }
    }

    /// <summary>
    /// Drops a whole chunk holding every one of its stripes (taken in ascending order, as nothing else holds two), so no
    /// writer can be copying into the array being dropped and no reader keeps a copy taken from it.
    /// </summary>
    private void ReleaseChunk(int index, long offset, int chunkLength)
    {
        int first = (int)(offset >> _stripeShift);
        int last = (int)((offset + chunkLength - 1) >> _stripeShift);
        for (int s = first; s <= last; s++)
        {
            EnterWriter(ref _stripes[s]);
        }

        if (Interlocked.Exchange(ref _chunks[index], null) is not null)
        {
            Interlocked.Decrement(ref _allocatedChunks);
        }

        for (int s = first; s <= last; s++)
        {
            // Every sequence here is odd: held by this call.
            Volatile.Write(ref _stripes[s], _stripes[s] + 1);
        }
    }

    private byte[] GetOrAllocateChunk(int index)
    {
        byte[]? chunk = Volatile.Read(ref _chunks[index]);
        if (chunk is not null)
        {
            return chunk;
        }

        // Two writers to different parts of one fresh chunk may both allocate; the loser's array is dropped and
        // it writes into the winner's, so neither write is lost.
        var fresh = new byte[ChunkLength(index)];
        chunk = Interlocked.CompareExchange(ref _chunks[index], fresh, null);
        if (chunk is not null)
        {
            return chunk;
        }

        Interlocked.Increment(ref _allocatedChunks);
        return fresh;
    }

    private void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > SizeBytes - length)
        {
            ThrowOutOfRange(offset, length);
        }
    }

    private void ThrowOutOfRange(long offset, long length) =>
        throw new ArgumentOutOfRangeException(nameof(offset), $"range {offset}+{length} is outside the {SizeBytes}-byte namespace");
}
