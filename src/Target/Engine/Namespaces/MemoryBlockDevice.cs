namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// A sparse in-memory namespace. Storage is split into fixed-size chunks that are allocated on the first write
/// that touches them; a chunk never written reads as zeroes, and deallocate / write-zeroes that cover a whole
/// chunk give it back. There is no lock on the data path: a chunk slot is published with a compare-exchange,
/// and callers guarantee that concurrent requests touch disjoint ranges, so a chunk being released can never be
/// in use by another request at the same moment.
/// </summary>
public sealed class MemoryBlockDevice : IBlockDevice
{
    /// <summary>1 MiB: large enough that the chunk table stays small (1024 slots per GiB), small enough to stay sparse.</summary>
    public const int DefaultChunkSize = 1 << 20;

    private readonly byte[]?[] _chunks;
    private readonly int _chunkShift;
    private readonly int _chunkMask;
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
    }

    public string Kind => "memory";

    /// <summary>Copies between arrays: never blocks.</summary>
    public bool CompletesInline => true;

    public string Description => "memory";

    public long SizeBytes { get; }

    public int LogicalBlockSize { get; }

    public int ChunkSize { get; }

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
            int index = (int)(offset >> _chunkShift);
            int within = (int)(offset & _chunkMask);
            int count = Math.Min(span.Length, ChunkLength(index) - within);
            byte[]? chunk = Volatile.Read(ref _chunks[index]);
            if (chunk is null)
            {
                span[..count].Clear();
            }
            else
            {
                chunk.AsSpan(within, count).CopyTo(span);
            }

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
            int index = (int)(offset >> _chunkShift);
            int within = (int)(offset & _chunkMask);
            int count = Math.Min(span.Length, ChunkLength(index) - within);
            span[..count].CopyTo(GetOrAllocateChunk(index).AsSpan(within, count));
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
                if (Interlocked.Exchange(ref _chunks[index], null) is not null)
                {
                    Interlocked.Decrement(ref _allocatedChunks);
                }
            }
            else
            {
                byte[]? chunk = Volatile.Read(ref _chunks[index]);
                chunk?.AsSpan(within, count).Clear();
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
