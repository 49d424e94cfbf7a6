using System.Buffers;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Commands;

/// <summary>
/// One submission slot of a queue, reused for the life of the connection: the command, its data buffer
/// (rented from the shared pool), its completion, and a cached continuation so a pending device operation
/// resumes without allocating. The transport fills the command and its data; the command layer executes it and
/// sets the completion. The slot index doubles as the R2T transfer tag.
/// </summary>
internal sealed class CommandContext : IThreadPoolWorkItem
{
    private readonly Action _deviceCompleted;
    private ValueTask _pending;
    private NvmeCommand _command;
    private NvmeCompletion _completion;
    private byte[]? _buffer;
    private IBufferOwner? _bufferOwner;
    private int _state;

    public CommandContext(CommandExecutor executor, ushort slot)
    {
        Executor = executor;
        Slot = slot;
        _deviceCompleted = OnDeviceCompleted;
    }

    /// <summary>The command layer of the queue this slot belongs to.</summary>
    public CommandExecutor Executor { get; }

    /// <summary>The transport queue the command arrived on.</summary>
    public ICommandQueue Queue => Executor.Queue;

    public ushort Slot { get; }

    public ref readonly NvmeCommand Command => ref _command;

    public CommandState State => (CommandState)Volatile.Read(ref _state);

    /// <summary>Bytes the SGL describes (0 when the command moves no data).</summary>
    public int TransferLength { get; private set; }

    /// <summary>Host-to-controller data that did not come in the capsule: the transport fetches it (R2T) once the command is admitted.</summary>
    public bool DataFollowsCapsule { get; private set; }

    /// <summary>Data bytes received so far (in-capsule or H2CData).</summary>
    public int Received { get; private set; }

    /// <summary>Some H2CData of this command failed its data digest; the command completes with Transient Transport Error.</summary>
    public bool DataDigestError { get; private set; }

    public bool AllDataReceived => Received == TransferLength;

    /// <summary>The namespace an I/O command addresses, held (acquired) until the slot is released.</summary>
    public TargetNamespace? Namespace { get; private set; }

    public long StartTimestamp { get; private set; }

    /// <summary>A status an I/O operation decided without failing (Compare mismatch, a DSM range out of bounds).</summary>
    public NvmeStatus DeviceStatus { get; set; }

    /// <summary>The namespace's reservation gate slot this command holds while on the device, or -1.</summary>
    public int ReservationSlot { get; set; } = -1;

    public ref readonly NvmeCompletion Completion => ref _completion;

    /// <summary>Bytes of <see cref="Data"/> returned to the host with the completion (reads, admin data).</summary>
    public int ResponseDataLength { get; private set; }

    public Span<byte> Data => _buffer.AsSpan(0, TransferLength);

    public Memory<byte> DataMemory => _buffer.AsMemory(0, TransferLength);

    public ReadOnlySpan<byte> ResponseData => _buffer.AsSpan(0, ResponseDataLength);

    /// <summary>Takes a free slot for a command whose capsule just arrived.</summary>
    public void Start(in NvmeCommand command, long timestamp)
    {
        SetState(CommandState.Receiving);
        _command = command;
        TransferLength = 0;
        Received = 0;
        DataFollowsCapsule = false;
        DataDigestError = false;
        _completion = default;
        ResponseDataLength = 0;
        Namespace = null;
        StartTimestamp = timestamp;
        DeviceStatus = NvmeStatus.Success;
        ReservationSlot = -1;
    }

    /// <summary>Rents the buffer for a transfer of <paramref name="length"/> bytes from the shared pool (in-capsule data, tests).</summary>
    public void RentBuffer(int length, bool dataFollowsCapsule)
    {
        TransferLength = length;
        DataFollowsCapsule = dataFollowsCapsule;
        _buffer = length > 0 ? ArrayPool<byte>.Shared.Rent(length) : null;
    }

    /// <summary>Records the transfer the SGL describes; its buffer comes later, from the connection's budget (<see cref="AttachBuffer"/>).</summary>
    public void SetTransfer(int length, bool dataFollowsCapsule)
    {
        TransferLength = length;
        DataFollowsCapsule = dataFollowsCapsule;
    }

    /// <summary>The command moves data and has no buffer for it yet.</summary>
    public bool NeedsBuffer => TransferLength > 0 && _buffer is null;

    /// <summary>Gives the command its data buffer; <paramref name="owner"/> takes it back when the slot is released.</summary>
    public void AttachBuffer(byte[] buffer, IBufferOwner owner)
    {
        _buffer = buffer;
        _bufferOwner = owner;
    }

    /// <summary>Where the next <paramref name="length"/> received data bytes go.</summary>
    public Memory<byte> NextData(int length) => _buffer.AsMemory(Received, length);

    /// <summary>Accounts for data written to <see cref="NextData"/>.</summary>
    public void DataArrived(int length, bool digestOk)
    {
        Received += length;
        DataDigestError |= !digestOk;
    }

    public void AttachNamespace(TargetNamespace ns) => Namespace = ns;

    /// <summary>Copies admin data into the command's buffer, truncated to the host's transfer length.</summary>
    public int CopyOut(ReadOnlySpan<byte> source)
    {
        var n = Math.Min(source.Length, TransferLength);
        source[..n].CopyTo(Data);
        return n;
    }

    public void SetCompletion(NvmeStatus status, uint dw0, uint dw1, int dataLength)
    {
        _completion = new NvmeCompletion { Dw0 = dw0, Dw1 = dw1, Status = status };
        ResponseDataLength = dataLength;
    }

    /// <summary>Completes a held command (an AER) from whichever thread raised the event.</summary>
    public void CompleteHeld(NvmeStatus status, uint dw0) => Executor.CompleteHeld(this, status, dw0);

    /// <summary>
    /// Hands the response data's buffer to the caller when <paramref name="owner"/> rented it: the slot then releases
    /// without returning it, and the caller returns it once the data left (a gathered send still reading it).
    /// </summary>
    public bool TryDetachResponseBuffer(IBufferOwner owner, out ArraySegment<byte> data)
    {
        if (_buffer is { } b && ReferenceEquals(_bufferOwner, owner) && ResponseDataLength > 0)
        {
            data = new ArraySegment<byte>(b, 0, ResponseDataLength);
            _buffer = null;
            _bufferOwner = null;
            return true;
        }

        data = default;
        return false;
    }

    /// <summary>Gives back what the command held: its namespace reference and its buffer.</summary>
    public void ReleaseResources()
    {
        if (ReservationSlot >= 0)
        {
            Namespace?.Reservations.ExitIo(ReservationSlot);
            ReservationSlot = -1;
        }

        Namespace?.Release();
        Namespace = null;
        if (_buffer is { } b)
        {
            _buffer = null;
            if (_bufferOwner is { } owner)
            {
                _bufferOwner = null;
                owner.ReturnBuffer(this, b);
            }
            else
            {
                ArrayPool<byte>.Shared.Return(b);
            }
        }
    }

    /// <summary>The only way the state changes; throws on a transition <see cref="CommandState"/> does not allow.</summary>
    public void SetState(CommandState next)
    {
        var current = State;
        if (!TrySetState(current, next))
        {
            throw new InvalidOperationException($"command slot {Slot} (command {_command.CommandId}) changed state concurrently while moving {current} → {next}");
        }
    }

    /// <summary>
    /// Moves the slot to <paramref name="next"/> only if it is still in <paramref name="expected"/>: a held command
    /// is completed by an event on one thread while its connection may be closing on another, and only one may win.
    /// </summary>
    public bool TrySetState(CommandState expected, CommandState next)
    {
        if (!IsLegal(expected, next))
        {
            throw new InvalidOperationException($"command slot {Slot} (command {_command.CommandId}): illegal state transition {expected} → {next}");
        }

        return Interlocked.CompareExchange(ref _state, (int)next, (int)expected) == (int)expected;
    }

    internal static bool IsLegal(CommandState from, CommandState to) => (from, to) switch
    {
        (CommandState.Free, CommandState.Receiving) => true,
        (CommandState.Receiving, CommandState.AwaitingData or CommandState.Executing) => true,
        (CommandState.AwaitingData, CommandState.Executing) => true,
        (CommandState.Executing, CommandState.Held) => true,
        (CommandState.Receiving or CommandState.AwaitingData or CommandState.Executing or CommandState.Held, CommandState.Completing) => true,
        (CommandState.Completing or CommandState.Receiving or CommandState.AwaitingData or CommandState.Held, CommandState.Free) => true,
        _ => false,
    };

    /// <summary>Resumes <see cref="IoExecutor.OnDeviceCompleted"/> when <paramref name="operation"/> completes.</summary>
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
        Executor.Io.OnDeviceCompleted(this, error);
    }

    // Blocking devices: the command was queued to the thread pool and starts its device operation here.
    void IThreadPoolWorkItem.Execute() => Executor.Io.Start(this);
}
