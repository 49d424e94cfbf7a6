using System.Runtime.ExceptionServices;
using System.Threading.Tasks.Sources;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Initiator.Queue;

/// <summary>
/// One command slot of a queue, preallocated and reused: the awaitable (a reset-able value task source),
/// the caller's buffers and the transfer progress. Its index in the queue is its command id.
/// A command sent with a <see cref="ICommandSink"/> is not awaited: its end queues the slot itself to the thread
/// pool (no allocation, unlike queuing a continuation delegate), and the sink takes the result with
/// <see cref="TakeResult"/>. On a queue in burst mode (<see cref="NvmeCompletionMode.Inline"/>) a completion tells the
/// sink right on the receive thread.
/// </summary>
internal sealed class CommandContext : IValueTaskSource<NvmeCompletion>, IThreadPoolWorkItem
{
    private const int Free = 0;
    private const int Active = 1;
    private const int Done = 2;

    private readonly HostQueue _owner;
    private ManualResetValueTaskSourceCore<NvmeCompletion> _core;
    private int _state;
    private ICommandSink? _sink;
    private NvmeCompletion _result;
    private Exception? _failure;

    public CommandContext(HostQueue owner, ushort commandId)
    {
        _owner = owner;
        CommandId = commandId;

        // Continuations never run on the receive loop: a caller doing real work (or blocking) must not stall it.
        _core.RunContinuationsAsynchronously = true;
    }

    public ushort CommandId { get; }

    /// <summary>The SQE as sent (command id and SGL filled in).</summary>
    public NvmeCommand Command;

    /// <summary>Where C2HData goes (reads).</summary>
    public Memory<byte> ReadBuffer;

    /// <summary>What goes out in-capsule or by R2T (writes).</summary>
    public ReadOnlyMemory<byte> WriteData;

    /// <summary>The write data travels in the capsule (no R2T expected).</summary>
    public bool InCapsule;

    /// <summary>C2HData bytes received so far (the next DATAO we accept).</summary>
    public int Received;

    /// <summary>R2T bytes granted so far (the next R2TO we accept).</summary>
    public int Granted;

    /// <summary>A data digest failed: the command ends with Transient Transport Error whatever the controller says.</summary>
    public bool DataDigestFailed;

    /// <summary>Set by the receive loop when it queues an R2T's data, cleared by the send loop once written.</summary>
    public volatile bool SendingR2TData;

    /// <summary>When the command was handed to the send loop (the queue's clock's timestamp), for the command timeout.</summary>
    public long StartedAt;

    /// <summary>The command may wait forever (the AER).</summary>
    public bool Unbounded;

    public bool IsActive => Volatile.Read(ref _state) == Active;

    public void Begin(in NvmeCommand command, Memory<byte> readBuffer, ReadOnlyMemory<byte> writeData, bool inCapsule, ICommandSink? sink)
    {
        _sink = sink;
        Command = command;
        ReadBuffer = readBuffer;
        WriteData = writeData;
        InCapsule = inCapsule;
        Received = 0;
        Granted = 0;
        DataDigestFailed = false;
        SendingR2TData = false;
        Unbounded = command.Opcode == AdminOpcodes.AsyncEventRequest && _owner.QueueId == 0;
        StartedAt = _owner.Time.GetTimestamp();
        _core.Reset();
        Volatile.Write(ref _state, Active);
    }

    public ValueTask<NvmeCompletion> AsValueTask() => new(this, _core.Version);

    /// <summary>Completes once; false when the command was already completed (or failed) by someone else.</summary>
    public bool TryComplete(in NvmeCompletion completion)
    {
        if (Interlocked.CompareExchange(ref _state, Done, Active) != Active)
        {
            return false;
        }

        if (_sink is not null)
        {
            _result = completion;
            if (_owner.InlineCompletions)
            {
                // NvmeCompletionMode.Inline: the caller continues on the receive thread, and what it submits there
                // leaves with this receive burst. Failures (a lost queue) still go to the thread pool.
                _sink.Completed(this);
            }
            else
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
            }
        }
        else
        {
            _core.SetResult(completion);
        }

        return true;
    }

    public bool TryFail(Exception error)
    {
        if (Interlocked.CompareExchange(ref _state, Done, Active) != Active)
        {
            return false;
        }

        if (_sink is not null)
        {
            _failure = error;
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
        }
        else
        {
            _core.SetException(error);
        }

        return true;
    }

    /// <summary>Runs on the thread pool once a command sent with a sink has ended: tells the sink.</summary>
    void IThreadPoolWorkItem.Execute() => _sink!.Completed(this);

    /// <summary>The sink's side of <see cref="GetResult"/>: the completion, or the failure thrown; frees the slot.</summary>
    public NvmeCompletion TakeResult()
    {
        var failure = _failure;
        var result = _result;
        Recycle();
        if (failure is not null)
        {
            ExceptionDispatchInfo.Throw(failure);
        }

        return result;
    }

    public NvmeCompletion GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            Recycle();
        }
    }

    private void Recycle()
    {
        ReadBuffer = default;
        WriteData = default;
        _sink = null;
        _failure = null;
        Volatile.Write(ref _state, Free);
        _owner.Release(this);
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
