using NvmeMptls.Target.Commands;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;

namespace NvmeMptls.Target.Tcp;

/// <summary>
/// One I/O queue's share of the data buffers: at most <see cref="TargetLimits.MaxConnectionBufferedBytes"/> rented
/// (and the process-wide <see cref="DataBufferPool"/> budget over all connections), at most
/// <see cref="TargetLimits.MaxOutstandingR2T"/> writes waiting for their data. A command that needs a buffer when a
/// limit is reached is parked, in arrival order, and started (its R2T sent, or its read run) when buffers or R2Ts
/// come back: the host sees a slower target, never an error, and the target never allocates past a cap. The receive
/// loop never waits here, so H2CData for writes already asked for keeps flowing and frees what the parked need.
/// </summary>
internal sealed class ConnectionBuffers : IBufferOwner, IBufferWaiter
{
    private readonly object _lock = new();
    private readonly Queue<CommandContext> _parked = new();
    private readonly DataBufferPool _pool;
    private readonly TargetCounters _counters;
    private readonly Action<CommandContext> _start;
    private readonly long _cap;
    private readonly int _maxR2T;
    private long _inUse;
    private int _r2ts;
    private int _drainScheduled;
    private LimitKind _lastLimit;
    private bool _closed;

    /// <param name="start">Starts a command whose buffer is attached (sends its R2T or executes it); false-safe after close.</param>
    public ConnectionBuffers(DataBufferPool pool, TargetLimits limits, TargetCounters counters, Action<CommandContext> start)
    {
        _pool = pool;
        _counters = counters;
        _start = start;
        _cap = limits.MaxConnectionBufferedBytes;
        _maxR2T = limits.MaxOutstandingR2T;
    }

    public bool Waiting { get; set; }

    /// <summary>Bytes this connection has rented now.</summary>
    public long BytesInUse
    {
        get
        {
            lock (_lock)
            {
                return _inUse;
            }
        }
    }

    /// <summary>Commands waiting for a buffer or an R2T now.</summary>
    public int Parked
    {
        get
        {
            lock (_lock)
            {
                return _parked.Count;
            }
        }
    }

    /// <summary>
    /// Gives an admitted command its buffer (true: the caller starts it now), or parks it (false: it is started later
    /// through the start callback, or dropped with its slot when the connection closes).
    /// </summary>
    public bool TryStart(CommandContext ctx)
    {
        lock (_lock)
        {
            // Arrival order: nothing overtakes a parked command.
            if (_parked.Count == 0 && TryAcquire(ctx))
            {
                return true;
            }

            // Counted once per command held back, by the limit that holds the queue's head.
            Interlocked.Increment(ref _counters.LimitsReached[(int)_lastLimit]);
            _parked.Enqueue(ctx);
            return false;
        }
    }

    /// <summary>All data of a write arrived: its R2T is no longer outstanding (receive loop).</summary>
    public void DataComplete()
    {
        lock (_lock)
        {
            _r2ts--;
            ScheduleDrain();
        }
    }

    void IBufferOwner.ReturnBuffer(CommandContext ctx, byte[] buffer)
    {
        lock (_lock)
        {
            _inUse -= buffer.Length;
            if (ctx.DataFollowsCapsule && !ctx.AllDataReceived)
            {
                _r2ts--; // released before all its data came (connection closing, digest error)
            }

            ScheduleDrain();
        }

        _pool.Return(buffer);
    }

    /// <summary>
    /// Takes back a read's buffer that left its slot for a gathered send (<see cref="CommandContext.TryDetachResponseBuffer"/>)
    /// once the socket took the data or the connection ended; from the connection's send loop, also after <see cref="Close"/>.
    /// </summary>
    public void ReturnDetached(byte[] buffer)
    {
        lock (_lock)
        {
            _inUse -= buffer.Length;
            ScheduleDrain();
        }

        _pool.Return(buffer);
    }

    /// <summary>The connection is closing: parked commands are dropped (their slots are freed with the others).</summary>
    public void Close()
    {
        lock (_lock)
        {
            _closed = true;
            _parked.Clear();
        }

        _pool.Forget(this);
    }

    // Under _lock. Remembers the limit that said no.
    private bool TryAcquire(CommandContext ctx)
    {
        var size = DataBufferPool.SizeOf(ctx.TransferLength);
        if (ctx.DataFollowsCapsule && _r2ts >= _maxR2T)
        {
            _lastLimit = LimitKind.OutstandingR2T;
            return false;
        }

        // One command always fits when the connection holds nothing, whatever the cap.
        if (_inUse > 0 && _inUse + size > _cap)
        {
            _lastLimit = LimitKind.ConnectionBufferedBytes;
            return false;
        }

        if (!_pool.TryRent(ctx.TransferLength, this, out var buffer))
        {
            _lastLimit = LimitKind.BufferedBytes;
            return false;
        }

        _inUse += buffer.Length;
        if (ctx.DataFollowsCapsule)
        {
            _r2ts++;
        }

        ctx.AttachBuffer(buffer, this);
        return true;
    }

    // Under _lock.
    private void ScheduleDrain()
    {
        if (_parked.Count > 0 && !_closed && Interlocked.Exchange(ref _drainScheduled, 1) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    /// <summary>Starts parked commands, in order, while their buffers can be had (thread pool).</summary>
    void IThreadPoolWorkItem.Execute()
    {
        Volatile.Write(ref _drainScheduled, 0);
        while (true)
        {
            CommandContext ready;
            lock (_lock)
            {
                if (_closed || _parked.Count == 0 || !TryAcquire(_parked.Peek()))
                {
                    return;
                }

                ready = _parked.Dequeue();
            }

            _start(ready);
        }
    }
}
