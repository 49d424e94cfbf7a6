using System.Buffers;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// One request of an <see cref="IoUringFile"/> in flight, pooled by it: the submission it (re)builds, the buffer the
/// kernel reads or writes, and the awaitable the caller waits on. The reaping thread calls <see cref="OnCompleted"/>:
/// a short transfer, -EAGAIN or -EINTR submits the rest again; anything else finishes the request and runs the
/// caller's continuation right there (the continuation only queues the NVMe completion to its connection).
/// <para>
/// With O_DIRECT the buffer must be aligned to the file's direct-I/O memory alignment. A caller buffer that is
/// (pinned for the duration) is used as it is; one that is not goes through this object's own aligned bounce
/// buffer, allocated once and kept. Nothing is allocated per request in steady state: the GCHandle that the
/// submission carries as user_data is made once per pooled object.
/// </para>
/// </summary>
internal sealed unsafe class IoUringOperation : IValueTaskSource
{
    /// <summary>How often one request is resubmitted after -EAGAIN/-EINTR before it fails.</summary>
    private const int MaxRetries = 10_000;

    private readonly IoUringFile _owner;
    private GCHandle _self;
    private ManualResetValueTaskSourceCore<bool> _core;
    private MemoryHandle _pin;
    private Memory<byte> _callerBuffer;
    private byte* _data;
    private byte* _bounce;
    private int _bounceCapacity;
    private bool _bounced;
    private IoUringRequest _request;
    private long _offset;
    private long _length;
    private long _done;
    private uint _opFlags;
    private int _retries;

    public IoUringOperation(IoUringFile owner)
    {
        _owner = owner;
        _self = GCHandle.Alloc(this);
        _core.RunContinuationsAsynchronously = false;
    }

    /// <summary>Intrusive link of the owner's list of requests waiting for a free ring slot.</summary>
    internal IoUringOperation? NextWaiting { get; set; }

    public ulong UserData => (ulong)GCHandle.ToIntPtr(_self);

    public static IoUringOperation FromUserData(ulong userData) => (IoUringOperation)GCHandle.FromIntPtr((nint)userData).Target!;

    public IoUringRequest Request => _request;

    public ValueTask Start(IoUringRequest request, long offset, long length, Memory<byte> buffer, uint opFlags)
    {
        _request = request;
        _offset = offset;
        _length = length;
        _done = 0;
        _opFlags = opFlags;
        _retries = 0;
        _callerBuffer = buffer;
        _bounced = false;
        _data = null;
        if (!buffer.IsEmpty)
        {
            AttachBuffer(buffer);
        }

        _owner.Submit(this);
        return new ValueTask(this, _core.Version);
    }

    /// <summary>Points the request at the caller's memory when it is aligned enough, else at the bounce buffer.</summary>
    private void AttachBuffer(Memory<byte> buffer)
    {
        int alignment = _owner.MemoryAlignment;
        bool aligned;
        fixed (byte* p = buffer.Span)
        {
            aligned = ((nuint)p & (nuint)(alignment - 1)) == 0;
        }

        if (aligned)
        {
            _pin = buffer.Pin();
            _data = (byte*)_pin.Pointer;
            if (((nuint)_data & (nuint)(alignment - 1)) == 0)
            {
                return;
            }

            // It moved before it was pinned: bounce after all.
            _pin.Dispose();
            _pin = default;
        }

        EnsureBounce(buffer.Length);
        _bounced = true;
        _data = _bounce;
        if (_request == IoUringRequest.Write)
        {
            buffer.Span.CopyTo(new Span<byte>(_bounce, buffer.Length));
        }
    }

    private void EnsureBounce(int length)
    {
        if (_bounceCapacity >= length)
        {
            return;
        }

        if (_bounce != null)
        {
            NativeMemory.AlignedFree(_bounce);
            _bounce = null;
            _bounceCapacity = 0;
        }

        int capacity = Math.Max(4096, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)length));
        _bounce = (byte*)NativeMemory.AlignedAlloc((nuint)capacity, 4096);
        _bounceCapacity = capacity;
    }

    /// <summary>The submission for what is left of the request.</summary>
    public void Build(out IoUringSqe sqe, int fd)
    {
        sqe = default;
        sqe.Fd = fd;
        sqe.UserData = UserData;
        switch (_request)
        {
            case IoUringRequest.Read or IoUringRequest.Write:
                sqe.Opcode = _request == IoUringRequest.Read ? IoUringNative.IORING_OP_READ : IoUringNative.IORING_OP_WRITE;
                sqe.Offset = (ulong)(_offset + _done);
                sqe.Address = (ulong)(_data + _done);
                sqe.Length = (uint)(_length - _done);
                sqe.OpFlags = _opFlags;
                break;
            case IoUringRequest.Flush:
                sqe.Opcode = IoUringNative.IORING_OP_FSYNC;
                break;
            case IoUringRequest.Fallocate:
                // fallocate(fd, mode, offset, len): len travels in addr, mode in len.
                sqe.Opcode = IoUringNative.IORING_OP_FALLOCATE;
                sqe.Offset = (ulong)_offset;
                sqe.Address = (ulong)_length;
                sqe.Length = _opFlags;
                break;
            default:
                sqe.Opcode = IoUringNative.IORING_OP_NOP;
                break;
        }
    }

    /// <summary>On the reaping thread: the kernel's result for the last submission of this request.</summary>
    public void OnCompleted(int result)
    {
        if (result is -IoUringNative.EAGAIN or -IoUringNative.EINTR && ++_retries < MaxRetries)
        {
            _owner.Resubmit(this);
            return;
        }

        if (result >= 0 && _request is IoUringRequest.Read or IoUringRequest.Write)
        {
            if (result == 0)
            {
                if (_request == IoUringRequest.Write)
                {
                    Finish(-5); // EIO: a write that moves nothing would loop for ever
                    return;
                }

                // Only if someone truncated the file underneath us: what is gone reads as zeroes, as a hole would.
                new Span<byte>(_data + _done, (int)(_length - _done)).Clear();
                _done = _length;
            }

            _done += result;
            if (_done < _length)
            {
                // A short transfer (a signal, a page-cache miss half-way): the rest goes in again.
                _owner.Resubmit(this);
                return;
            }

            Finish(0);
            return;
        }

        Finish(result >= 0 ? 0 : result);
    }

    private void Finish(int result)
    {
        if (result == 0 && _bounced && _request == IoUringRequest.Read)
        {
            new ReadOnlySpan<byte>(_bounce, (int)_length).CopyTo(_callerBuffer.Span);
        }

        _pin.Dispose();
        _pin = default;
        _callerBuffer = default;
        _data = null;
        _owner.Release();
        if (result == 0)
        {
            _core.SetResult(true);
        }
        else
        {
            _core.SetException(_owner.ToException(_request, _offset, _length, -result));
        }
    }

    /// <summary>The owner closed before this request went in: it fails without having held a slot.</summary>
    public void FailClosed()
    {
        _pin.Dispose();
        _pin = default;
        _callerBuffer = default;
        _data = null;
        _core.SetException(new ObjectDisposedException(_owner.Path, "the namespace's io_uring is closed"));
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    public void GetResult(short token)
    {
        try
        {
            _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
            _owner.Return(this);
        }
    }

    /// <summary>Releases the GCHandle and the bounce buffer; only for objects no request uses any more.</summary>
    public void Free()
    {
        if (_self.IsAllocated)
        {
            _self.Free();
        }

        if (_bounce != null)
        {
            NativeMemory.AlignedFree(_bounce);
            _bounce = null;
            _bounceCapacity = 0;
        }
    }
}

/// <summary>What an <see cref="IoUringOperation"/> asks the kernel to do.</summary>
internal enum IoUringRequest : byte
{
    Read,
    Write,
    Flush,
    Fallocate,
    Nop,
}
