using System.Buffers;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Tcp;

internal enum CommandState : byte
{
    Free,
    AwaitingData,
    Executing,
    Held,
    Responding,
}

/// <summary>
/// One submission slot of a queue, reused for the life of the connection: the command, its data buffer
/// (rented from the shared pool), its completion, and a cached continuation so a pending device operation
/// resumes without allocating. The slot index doubles as the R2T transfer tag.
/// </summary>
internal sealed class CommandContext : IThreadPoolWorkItem
{
    private readonly Action _deviceCompleted;
    private ValueTask _pending;

    public CommandContext(TargetQueue queue, ushort slot)
    {
        Queue = queue;
        Slot = slot;
        _deviceCompleted = OnDeviceCompleted;
    }

    public TargetQueue Queue { get; }
    public ushort Slot { get; }

    public NvmeCommand Command;
    public CommandState State;
    public byte[]? Buffer;
    public int TransferLength;
    public int Received;
    public bool NeedsR2T;
    public bool DataDigestError;
    public NvmeCompletion Completion;
    public int ResponseDataLength;
    public TargetNamespace? Namespace;
    public long StartTimestamp;
    public byte Phase;

    /// <summary>Set once the command was handed to the thread pool (blocking devices), so it starts there.</summary>
    public bool OnWorker;

    public Span<byte> Data => Buffer.AsSpan(0, TransferLength);

    public Memory<byte> DataMemory => Buffer.AsMemory(0, TransferLength);

    public void Reset(in NvmeCommand command, long timestamp)
    {
        Command = command;
        State = CommandState.Executing;
        TransferLength = 0;
        Received = 0;
        NeedsR2T = false;
        DataDigestError = false;
        Completion = default;
        ResponseDataLength = 0;
        Namespace = null;
        StartTimestamp = timestamp;
        Phase = 0;
        OnWorker = false;
    }

    public void RentBuffer(int length)
    {
        TransferLength = length;
        Buffer = length > 0 ? ArrayPool<byte>.Shared.Rent(length) : null;
    }

    /// <summary>Copies admin data into the command's buffer, truncated to the host's transfer length.</summary>
    public int CopyOut(ReadOnlySpan<byte> source)
    {
        var n = Math.Min(source.Length, TransferLength);
        source[..n].CopyTo(Data);
        return n;
    }

    public void ReturnBuffer()
    {
        if (Buffer is { } b)
        {
            Buffer = null;
            ArrayPool<byte>.Shared.Return(b);
        }
    }

    /// <summary>Resumes <see cref="TargetQueue.OnDeviceCompleted"/> when <paramref name="operation"/> completes.</summary>
    public void AwaitDevice(ValueTask operation)
    {
        _pending = operation;
        if (operation.IsCompleted)
        {
            OnDeviceCompleted();
        }
        else
        {
            operation.GetAwaiter().UnsafeOnCompleted(_deviceCompleted);
        }
    }

    private void OnDeviceCompleted()
    {
        Exception? error = null;
        try
        {
            _pending.GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            error = ex;
        }

        _pending = default;
        Queue.OnDeviceCompleted(this, error);
    }

    void IThreadPoolWorkItem.Execute() => Queue.Execute(this);
}
