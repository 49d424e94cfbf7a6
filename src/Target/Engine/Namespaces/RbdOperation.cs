using System.Buffers;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// One librbd aio request in flight, pooled by its <see cref="RbdBlockDevice"/>: the buffer stays pinned until
/// librbd calls back, the callback (on a librbd thread) only records the result and queues this object to the
/// thread pool, and the awaiting command resumes there — never on librbd's finisher thread, which other
/// completions of the image wait behind. A FUA write issues its flush from the write's completion. Nothing is
/// allocated per request in steady state: the GCHandle that librbd carries as the callback argument is made once
/// per pooled object, and the aio completion is librbd's own native object.
/// </summary>
internal sealed unsafe class RbdOperation : IValueTaskSource, IThreadPoolWorkItem
{
    private readonly RbdBlockDevice _device;
    private GCHandle _self;
    private ManualResetValueTaskSourceCore<bool> _core;
    private MemoryHandle _pin;
    private RbdRequest _request;
    private long _offset;
    private long _length;
    private long _result;

    public RbdOperation(RbdBlockDevice device)
    {
        _device = device;
        _self = GCHandle.Alloc(this);

        // Execute already runs on the thread pool, so the continuation may run right there.
        _core.RunContinuationsAsynchronously = false;
    }

    public static RbdOperation FromHandle(nint handle) => (RbdOperation)GCHandle.FromIntPtr(handle).Target!;

    /// <summary>Starts the request; a synchronous refusal by librbd completes the returned task with the mapped error.</summary>
    public ValueTask Start(RbdRequest request, long offset, long length, ReadOnlyMemory<byte> buffer)
    {
        _request = request;
        _offset = offset;
        _length = length;
        _pin = MemoryMarshal.AsMemory(buffer).Pin();
        int rc = Submit();
        if (rc < 0)
        {
            _pin.Dispose();
            _pin = default;
            _device.Return(this);
            return ValueTask.FromException(_device.ToException(request, offset, length, rc));
        }

        return new ValueTask(this, _core.Version);
    }

    private int Submit()
    {
        int rc = RbdNative.rbd_aio_create_completion(GCHandle.ToIntPtr(_self), RbdNative.CompletionCallback, out nint completion);
        if (rc < 0)
        {
            return rc;
        }

        nint image = _device.Image;
        rc = _request switch
        {
            RbdRequest.Read => RbdNative.rbd_aio_read(image, (ulong)_offset, (nuint)_length, (byte*)_pin.Pointer, completion),
            RbdRequest.Write or RbdRequest.WriteThenFlush => RbdNative.rbd_aio_write(image, (ulong)_offset, (nuint)_length, (byte*)_pin.Pointer, completion),
            RbdRequest.Flush => RbdNative.rbd_aio_flush(image, completion),
            _ => RbdNative.rbd_aio_write_zeroes(image, (ulong)_offset, (nuint)_length, completion, 0, 0),
        };
        if (rc < 0)
        {
            RbdNative.rbd_aio_release(completion);
        }

        return rc;
    }

    /// <summary>On librbd's callback thread: record and hand over; no managed work beyond queueing.</summary>
    public void OnNativeCompleted(long result)
    {
        _result = result;
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    void IThreadPoolWorkItem.Execute()
    {
        long result = _result;
        long expected = _request == RbdRequest.Read ? _length : 0;
        if (result == expected && _request == RbdRequest.WriteThenFlush)
        {
            // FUA: the write is done; the flush is the barrier that makes it durable before the command completes.
            _request = RbdRequest.Flush;
            int rc = Submit();
            if (rc >= 0)
            {
                return;
            }

            result = rc;
        }

        _pin.Dispose();
        _pin = default;
        if (result == expected)
        {
            _core.SetResult(true);
        }
        else
        {
            // A short read (never seen: librbd reads zeroes past written data) is an I/O error like any other.
            _core.SetException(_device.ToException(_request, _offset, _length, result < 0 ? (int)result : -5));
        }
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
            _device.Return(this);
        }
    }

    /// <summary>Releases the GCHandle; only for objects no request uses any more.</summary>
    public void Free()
    {
        if (_self.IsAllocated)
        {
            _self.Free();
        }
    }
}

/// <summary>What an <see cref="RbdOperation"/> asks librbd to do.</summary>
internal enum RbdRequest
{
    Read,
    Write,
    WriteThenFlush,
    Flush,
    WriteZeroes,
}
