using System.Numerics;

namespace NvmeMptls.Target.Tcp;

/// <summary>
/// The process-wide pool of I/O command data buffers (R2T-fetched write data, read data): a byte budget
/// (<see cref="Subsystems.TargetLimits.MaxBufferedBytes"/>) that every buffer counts against while it is rented,
/// so queue depth × transfer size is bounded over all connections, not only per queue. A rent that would pass the
/// budget fails; the caller parks the command (delays its R2T or its read) and is called back when bytes come back
/// — back-pressure, never allocation past the budget and never a failed I/O.
/// <para>
/// Returned buffers are kept by power-of-two size for reuse. A periodic trim drops every buffer that stayed unused
/// through a whole period (<see cref="Subsystems.TargetLimits.BufferIdleTrim"/>), and when that freed a large amount
/// asks the GC to give the memory back to the OS (an aggressive collection, run only at such an idle moment), so a
/// burst of deep-queue large reads does not leave the process holding its peak after the connections go.
/// </para>
/// </summary>
public sealed class DataBufferPool : IDisposable
{
    /// <summary>Smallest buffer handed out (one page); smaller transfers share this size class.</summary>
    public const int MinBufferSize = 4096;

    /// <summary>A trim that frees at least this much also returns the memory to the OS.</summary>
    public const long ReturnToOsThreshold = 16L << 20;

    private const int MinShift = 12;
    private const int Classes = 20; // 4 KiB .. 2 GiB

    private readonly object _lock = new();
    private readonly Stack<byte[]>[] _free = new Stack<byte[]>[Classes];
    private readonly int[] _lowWater = new int[Classes];
    private readonly Queue<IBufferWaiter> _waiters = new();
    private readonly TimeProvider _time;
    private readonly TimeSpan _idleTrim;
    private ITimer? _trimTimer;
    private long _inUse;
    private long _retained;
    private long _peak;
    private long _trimmedBytes;
    private bool _disposed;

    public DataBufferPool(long budgetBytes, TimeSpan idleTrim, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(budgetBytes, MinBufferSize);
        BudgetBytes = budgetBytes;
        _idleTrim = idleTrim;
        _time = time ?? TimeProvider.System;
        for (var i = 0; i < Classes; i++)
        {
            _free[i] = new Stack<byte[]>();
        }
    }

    /// <summary>The most bytes rented at once.</summary>
    public long BudgetBytes { get; }

    /// <summary>Bytes rented now (buffer sizes, rounded up to their size class).</summary>
    public long BytesInUse => Interlocked.Read(ref _inUse);

    /// <summary>Bytes of returned buffers kept for reuse.</summary>
    public long BytesRetained => Interlocked.Read(ref _retained);

    /// <summary>The highest <see cref="BytesInUse"/> seen.</summary>
    public long PeakBytesInUse => Interlocked.Read(ref _peak);

    /// <summary>Bytes of idle buffers dropped by trims so far.</summary>
    public long TrimmedBytes => Interlocked.Read(ref _trimmedBytes);

    /// <summary>The size class (a power of two, at least <see cref="MinBufferSize"/>) a buffer of <paramref name="length"/> bytes takes.</summary>
    public static int SizeOf(int length) => length <= MinBufferSize ? MinBufferSize : (int)BitOperations.RoundUpToPowerOf2((uint)length);

    /// <summary>
    /// A buffer of at least <paramref name="length"/> bytes, or false when renting it would pass the budget (then
    /// <paramref name="waiter"/>, when given, is called once bytes come back). Never allocates past the budget,
    /// except for one buffer when nothing at all is rented, so a budget smaller than one transfer still makes progress.
    /// </summary>
    internal bool TryRent(int length, IBufferWaiter? waiter, out byte[] buffer)
    {
        var size = SizeOf(length);
        var cls = ClassOf(size);
        lock (_lock)
        {
            if (_inUse + size > BudgetBytes && _inUse > 0)
            {
                if (waiter is not null && !waiter.Waiting)
                {
                    waiter.Waiting = true;
                    _waiters.Enqueue(waiter);
                }

                buffer = [];
                return false;
            }

            _inUse += size;
            if (_inUse > _peak)
            {
                _peak = _inUse;
            }

            if (cls < Classes && _free[cls].TryPop(out var pooled))
            {
                _retained -= size;
                if (_free[cls].Count < _lowWater[cls])
                {
                    _lowWater[cls] = _free[cls].Count;
                }

                buffer = pooled;
                return true;
            }

            StartTrimTimer();
        }

        // Allocated outside the lock; zeroing is not needed, every byte sent was written first.
        buffer = GC.AllocateUninitializedArray<byte>(size);
        return true;
    }

    /// <summary>Gives a rented buffer back and wakes the waiters, who retry on the thread pool.</summary>
    internal void Return(byte[] buffer)
    {
        var size = buffer.Length;
        var cls = ClassOf(size);
        lock (_lock)
        {
            _inUse -= size;
            if (!_disposed && cls < Classes)
            {
                _free[cls].Push(buffer);
                _retained += size;
            }

            // Every waiter retries (on the thread pool, not here: the caller may hold its queue's locks).
            while (_waiters.TryDequeue(out var w))
            {
                w.Waiting = false;
                ThreadPool.UnsafeQueueUserWorkItem(w, preferLocal: false);
            }
        }
    }

    /// <summary>Drops a waiter that no longer waits (its connection closed).</summary>
    internal void Forget(IBufferWaiter waiter)
    {
        lock (_lock)
        {
            if (!waiter.Waiting)
            {
                return;
            }

            waiter.Waiting = false;
            var n = _waiters.Count;
            for (var i = 0; i < n; i++)
            {
                var w = _waiters.Dequeue();
                if (!ReferenceEquals(w, waiter))
                {
                    _waiters.Enqueue(w);
                }
            }
        }
    }

    /// <summary>
    /// Drops idle buffers: with <paramref name="all"/>, every kept buffer; otherwise those that stayed unused since
    /// the previous trim. Returns the bytes dropped; when that is at least <see cref="ReturnToOsThreshold"/>, the GC
    /// is asked to return the memory to the OS.
    /// </summary>
    public long Trim(bool all = false)
    {
        long dropped = 0;
        lock (_lock)
        {
            for (var cls = 0; cls < Classes; cls++)
            {
                var stack = _free[cls];
                var drop = all ? stack.Count : Math.Min(_lowWater[cls], stack.Count);
                for (var i = 0; i < drop; i++)
                {
                    dropped += stack.Pop().Length;
                }

                if (stack.Count == 0)
                {
                    stack.TrimExcess();
                }

                _lowWater[cls] = stack.Count;
            }

            _retained -= dropped;
            _trimmedBytes += dropped;
            if (_retained == 0 && _inUse == 0)
            {
                // Nothing to trim until the next rent: no timer keeps the registry alive meanwhile.
                _trimTimer?.Dispose();
                _trimTimer = null;
            }
        }

        if (dropped >= ReturnToOsThreshold)
        {
            // Only an aggressive, compacting collection decommits the freed large-object regions.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }

        return dropped;
    }

    private void StartTrimTimer()
    {
        if (_trimTimer is null && !_disposed && _idleTrim > TimeSpan.Zero && _idleTrim != Timeout.InfiniteTimeSpan)
        {
            _trimTimer = _time.CreateTimer(static s => ((DataBufferPool)s!).Trim(), this, _idleTrim, _idleTrim);
        }
    }

    private static int ClassOf(int size) => BitOperations.Log2((uint)size) - MinShift;

    /// <summary>Stops the trim timer and drops every kept buffer; buffers still rented are dropped when returned.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _trimTimer?.Dispose();
            _trimTimer = null;
        }

        Trim(all: true);
    }
}

/// <summary>A party parked on the process-wide budget: run on the thread pool once bytes come back.</summary>
internal interface IBufferWaiter : IThreadPoolWorkItem
{
    /// <summary>Queued on the pool now (set and cleared under the pool's lock).</summary>
    bool Waiting { get; set; }
}
