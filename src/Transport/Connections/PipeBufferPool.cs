using System.Buffers;

namespace NvmeMptls.Transport.Connections;

/// <summary>
/// The memory behind every connection pipe (socket, TLS plaintext, in-memory): blocks of 4 KiB to 1 MiB in
/// power-of-two classes, allocated once on the pinned object heap and reused, so a steady stream of I/O allocates
/// nothing. Replaces the pipes' default, <see cref="ArrayPool{T}.Shared"/>, which keeps only 32 arrays of a size per
/// CPU the process may run on: a target pinned to one CPU serving 128 KiB I/O has more 64 KiB and 16 KiB segments in
/// flight than that, and every segment beyond the pool's capacity was a new array (measured with
/// <c>bench/NvmeMptls.Bench alloc</c>: 69 KB/IO plain, 246 KB/IO TLS at 128 KiB QD16 on one CPU).
/// Each class keeps up to <see cref="MaxRetainedBytesPerClass"/> of returned blocks; beyond that a returned block is
/// left to the GC. With an idle trim, blocks that stayed unused through a whole period are dropped too (and a large
/// drop asks the GC to give the memory back to the OS), so a burst of connections does not pin memory for ever.
/// </summary>
public sealed class PipeBufferPool : MemoryPool<byte>
{
    /// <summary>Smallest block (a pipe's default segment).</summary>
    public const int MinBlockSize = 4096;

    /// <summary>Largest block: the largest send segment <c>SocketConnectionOptions</c> accepts.</summary>
    public const int MaxBlockSize = 1 << 20;

    private const int MinShift = 12;
    private const int ClassCount = 9; // 4 KiB, 8 KiB … 1 MiB

    /// <summary>A trim that drops at least this much asks for a compacting collection, which decommits the memory.</summary>
    public const long ReturnToOsThreshold = 16L << 20;

    private readonly SizeClass[] _classes = new SizeClass[ClassCount];
    private readonly ITimer? _trimTimer;
    private int _disposed;
    private long _trimmedBytes;

    /// <param name="maxRetainedBytesPerClass">Returned blocks kept per size class; at least one block of each class.</param>
    /// <param name="idleTrim">Period of the idle trim (null or zero: none; <see cref="Trim"/> can still be called).</param>
    /// <param name="time">Clock of the trim timer (tests pass a fake one).</param>
    public PipeBufferPool(long maxRetainedBytesPerClass = 64L << 20, TimeSpan? idleTrim = null, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRetainedBytesPerClass);
        MaxRetainedBytesPerClass = maxRetainedBytesPerClass;
        for (var i = 0; i < ClassCount; i++)
        {
            var blockSize = MinBlockSize << i;
            _classes[i] = new SizeClass(this, blockSize, (int)Math.Clamp(maxRetainedBytesPerClass / blockSize, 1, int.MaxValue));
        }

        if (idleTrim is { } period && period > TimeSpan.Zero && period != Timeout.InfiniteTimeSpan)
        {
            _trimTimer = (time ?? TimeProvider.System).CreateTimer(static s => ((PipeBufferPool)s!).Trim(), this, period, period);
        }
    }

    /// <summary>The pool every connection pipe of the process uses; blocks idle for 30 s are released.</summary>
    public static PipeBufferPool Connections { get; } = new(idleTrim: TimeSpan.FromSeconds(30));

    /// <summary>Bytes dropped by trims since start.</summary>
    public long TrimmedBytes => Interlocked.Read(ref _trimmedBytes);

    /// <summary>
    /// Drops kept blocks: with <paramref name="all"/> every one, otherwise those that stayed unused since the previous
    /// trim (the lowest free count seen in between). Returns the bytes dropped.
    /// </summary>
    public long Trim(bool all = false)
    {
        long dropped = 0;
        foreach (var c in _classes)
        {
            dropped += c.Trim(all);
        }

        Interlocked.Add(ref _trimmedBytes, dropped);
        if (dropped >= ReturnToOsThreshold)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }

        return dropped;
    }

    public long MaxRetainedBytesPerClass { get; }

    public override int MaxBufferSize => MaxBlockSize;

    /// <summary>Blocks created since start (stays flat in steady state).</summary>
    public long BlocksCreated => Interlocked.Read(ref _blocksCreated);

    /// <summary>Bytes of the blocks created since start.</summary>
    public long BytesCreated => Interlocked.Read(ref _bytesCreated);

    /// <summary>Bytes held in the pool's free lists right now.</summary>
    public long RetainedBytes
    {
        get
        {
            long total = 0;
            foreach (var c in _classes)
            {
                total += (long)c.Count * c.BlockSize;
            }

            return total;
        }
    }

    private long _blocksCreated;
    private long _bytesCreated;

    /// <summary>A block of at least <paramref name="minBufferSize"/> bytes (the next power of two, at least 4 KiB).</summary>
    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (minBufferSize > MaxBlockSize)
        {
            throw new ArgumentOutOfRangeException(nameof(minBufferSize), minBufferSize, $"must be at most {MaxBlockSize} (the pool's MaxBufferSize)");
        }

        return _classes[ClassOf(minBufferSize)].Rent();
    }

    /// <summary>Index of the smallest class holding <paramref name="size"/> bytes.</summary>
    internal static int ClassOf(int size)
    {
        if (size <= MinBlockSize)
        {
            return 0;
        }

        return (32 - System.Numerics.BitOperations.LeadingZeroCount((uint)size - 1)) - MinShift;
    }

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && disposing)
        {
            _trimTimer?.Dispose();
            foreach (var c in _classes)
            {
                c.Clear();
            }
        }
    }

    private sealed class SizeClass(PipeBufferPool pool, int blockSize, int maxRetained)
    {
        private readonly Lock _lock = new();
        private Block[] _free = new Block[Math.Min(maxRetained, 16)];
        private int _lowWater;

        public int BlockSize { get; } = blockSize;

        public int Count { get; private set; }

        public Block Rent()
        {
            Block? block = null;
            lock (_lock)
            {
                if (Count > 0)
                {
                    block = _free[--Count];
                    _free[Count] = null!;
                    _lowWater = Math.Min(_lowWater, Count);
                }
            }

            if (block is null)
            {
                Interlocked.Increment(ref pool._blocksCreated);
                Interlocked.Add(ref pool._bytesCreated, BlockSize);
                block = new Block(this, GC.AllocateArray<byte>(BlockSize, pinned: true));
            }

            block.Rented = 1;
            return block;
        }

        public void Return(Block block)
        {
            if (Volatile.Read(ref pool._disposed) != 0)
            {
                return;
            }

            lock (_lock)
            {
                if (Count == _free.Length)
                {
                    if (Count >= maxRetained)
                    {
                        return; // over the retention cap: the GC takes it
                    }

                    // Grows only while the peak number of blocks in flight grows; never in steady state.
                    Array.Resize(ref _free, (int)Math.Min(maxRetained, 2L * _free.Length));
                }

                _free[Count++] = block;
            }
        }

        /// <summary>Drops the blocks no one needed since the last trim (all of them with <paramref name="all"/>).</summary>
        public long Trim(bool all)
        {
            lock (_lock)
            {
                var drop = all ? Count : Math.Min(_lowWater, Count);
                for (var i = 0; i < drop; i++)
                {
                    _free[--Count] = null!;
                }

                if (Count == 0 && _free.Length > 16)
                {
                    _free = new Block[Math.Min(maxRetained, 16)];
                }

                _lowWater = Count;
                return (long)drop * BlockSize;
            }
        }

        public void Clear()
        {
            lock (_lock)
            {
                Array.Clear(_free);
                Count = 0;
            }
        }
    }

    /// <summary>One block; disposing it (the pipe does, when the segment is consumed) returns it to its class.</summary>
    private sealed class Block(SizeClass owner, byte[] array) : IMemoryOwner<byte>
    {
        public int Rented;

        public Memory<byte> Memory => array;

        public void Dispose()
        {
            // A second Dispose must not put the block in the free list twice (two renters would share it).
            if (Interlocked.Exchange(ref Rented, 0) == 1)
            {
                owner.Return(this);
            }
        }
    }
}
