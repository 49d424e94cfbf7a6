namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// One io_uring instance: the submission and completion rings mapped into this process. Not thread-safe by itself:
/// <see cref="TryPrepare"/> and <see cref="Submit"/> are called under the owner's lock (one producer at a time),
/// <see cref="TryPeek"/>/<see cref="Advance"/> only by the one reaping thread. The head/tail words shared with the
/// kernel are read with acquire and written with release semantics (<see cref="Volatile"/>), as liburing's
/// io_uring_smp_load_acquire / io_uring_smp_store_release do.
/// </summary>
internal sealed unsafe class IoUring : IDisposable
{
    private readonly int _fd;
    private readonly void* _sqRing;
    private readonly nuint _sqRingSize;
    private readonly void* _cqRing;
    private readonly nuint _cqRingSize;
    private readonly IoUringSqe* _sqes;
    private readonly nuint _sqesSize;
    private readonly uint* _sqHead;
    private readonly uint* _sqTail;
    private readonly uint* _sqArray;
    private readonly uint _sqMask;
    private readonly uint* _cqHead;
    private readonly uint* _cqTail;
    private readonly IoUringCqe* _cqes;
    private readonly uint _cqMask;
    private uint _sqLocalTail;
    private int _disposed;

    private IoUring(int fd, in IoUringParams p, void* sqRing, nuint sqRingSize, void* cqRing, nuint cqRingSize, IoUringSqe* sqes, nuint sqesSize)
    {
        _fd = fd;
        _sqRing = sqRing;
        _sqRingSize = sqRingSize;
        _cqRing = cqRing;
        _cqRingSize = cqRingSize;
        _sqes = sqes;
        _sqesSize = sqesSize;
        byte* sq = (byte*)sqRing;
        byte* cq = (byte*)cqRing;
        _sqHead = (uint*)(sq + p.SqOff.Head);
        _sqTail = (uint*)(sq + p.SqOff.Tail);
        _sqArray = (uint*)(sq + p.SqOff.Array);
        _sqMask = *(uint*)(sq + p.SqOff.RingMask);
        _cqHead = (uint*)(cq + p.CqOff.Head);
        _cqTail = (uint*)(cq + p.CqOff.Tail);
        _cqes = (IoUringCqe*)(cq + p.CqOff.Cqes);
        _cqMask = *(uint*)(cq + p.CqOff.RingMask);
        SqEntries = p.SqEntries;
        CqEntries = p.CqEntries;
        _sqLocalTail = Volatile.Read(ref *_sqTail);
    }

    /// <summary>Submission queue size (a power of two).</summary>
    public uint SqEntries { get; }

    public uint CqEntries { get; }

    /// <summary>
    /// Sets up a ring of <paramref name="entries"/> submissions; null with the errno when the kernel refuses
    /// (ENOSYS: no io_uring; EPERM: disabled by sysctl kernel.io_uring_disabled or a seccomp filter; ENOMEM: locked-memory limit).
    /// </summary>
    public static IoUring? TryCreate(uint entries, out int errno)
    {
        IoUringParams p = default;
        int fd = IoUringNative.Setup(entries, &p);
        if (fd < 0)
        {
            errno = -fd;
            return null;
        }

        nuint sqSize = p.SqOff.Array + p.SqEntries * sizeof(uint);
        nuint cqSize = p.CqOff.Cqes + p.CqEntries * (nuint)sizeof(IoUringCqe);
        bool single = (p.Features & IoUringNative.IORING_FEAT_SINGLE_MMAP) != 0;
        if (single)
        {
            sqSize = cqSize = Math.Max(sqSize, cqSize);
        }

        void* sqRing = null, cqRing = null, sqes = null;
        nuint sqesSize = p.SqEntries * (nuint)sizeof(IoUringSqe);
        sqRing = IoUringNative.MapSqRing(fd, sqSize, out errno);
        if (sqRing != null)
        {
            cqRing = single ? sqRing : IoUringNative.MapCqRing(fd, cqSize, out errno);
        }

        if (cqRing != null)
        {
            sqes = IoUringNative.MapSqes(fd, sqesSize, out errno);
        }

        if (sqes == null)
        {
            if (!single)
            {
                IoUringNative.Unmap(cqRing, cqSize);
            }

            IoUringNative.Unmap(sqRing, sqSize);
            IoUringNative.Close(fd);
            return null;
        }

        errno = 0;
        return new IoUring(fd, p, sqRing, sqSize, cqRing, single ? 0 : cqSize, (IoUringSqe*)sqes, sqesSize);
    }

    /// <summary>
    /// Fills the next submission slot and publishes it to the kernel (not yet submitted: see <see cref="Submit"/>).
    /// False when the submission queue is full.
    /// </summary>
    public bool TryPrepare(in IoUringSqe entry)
    {
        uint head = Volatile.Read(ref *_sqHead);
        if (_sqLocalTail - head >= SqEntries)
        {
            return false;
        }

        uint index = _sqLocalTail & _sqMask;
        _sqes[index] = entry;
        _sqArray[index] = index;
        _sqLocalTail++;

        // Release: the entry and the array slot are visible before the kernel can see the new tail.
        Volatile.Write(ref *_sqTail, _sqLocalTail);
        return true;
    }

    /// <summary>Hands up to <paramref name="count"/> prepared entries to the kernel: how many it took, or -errno.</summary>
    public int Submit(uint count) => IoUringNative.Enter(_fd, count, 0, 0);

    /// <summary>Blocks until at least one completion is posted (or a signal interrupts): 0, or -errno.</summary>
    public int WaitForCompletion() => IoUringNative.Enter(_fd, 0, 1, IoUringNative.IORING_ENTER_GETEVENTS);

    /// <summary>The oldest unconsumed completion, if any; consume it with <see cref="Advance"/>.</summary>
    public bool TryPeek(out ulong userData, out int result)
    {
        uint head = Volatile.Read(ref *_cqHead);
        uint tail = Volatile.Read(ref *_cqTail);
        if (head == tail)
        {
            userData = 0;
            result = 0;
            return false;
        }

        IoUringCqe* cqe = &_cqes[head & _cqMask];
        userData = cqe->UserData;
        result = cqe->Result;
        return true;
    }

    /// <summary>Gives the peeked completion slot back to the kernel.</summary>
    public void Advance()
    {
        // Release: the entry was read before the kernel may overwrite it.
        Volatile.Write(ref *_cqHead, Volatile.Read(ref *_cqHead) + 1);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        IoUringNative.Unmap(_sqes, _sqesSize);
        if (_cqRingSize != 0)
        {
            IoUringNative.Unmap(_cqRing, _cqRingSize);
        }

        IoUringNative.Unmap(_sqRing, _sqRingSize);
        IoUringNative.Close(_fd);
    }
}
