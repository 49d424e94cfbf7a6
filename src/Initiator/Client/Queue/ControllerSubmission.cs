using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Initiator.Queue;

/// <summary>
/// One command on the controller's fast path, pooled by the controller: what the async submission does in the
/// common case (live queue, free slot, no retry) without an async state machine per command. The queue tells it the
/// end through <see cref="ICommandSink"/>; a lost queue or a retryable status goes to the controller's async path,
/// which waits for the reconnect and resends exactly as for any other command.
/// As <see cref="IValueTaskSource{TResult}"/> it gives the completion whatever its status; as
/// <see cref="IValueTaskSource"/> (the namespace's reads and writes) it throws <see cref="NvmeStatusException"/> on an
/// error status.
/// </summary>
internal sealed class ControllerSubmission : IValueTaskSource<NvmeCompletion>, IValueTaskSource, ICommandSink
{
    private readonly NvmeController _controller;
    private readonly Action _onSlowPathCompleted;
    private ManualResetValueTaskSourceCore<NvmeCompletion> _core;
    private ConfiguredValueTaskAwaitable<NvmeCompletion>.ConfiguredValueTaskAwaiter _slowPath;
    private NvmeCommand _command;
    private Memory<byte> _readBuffer;
    private ReadOnlyMemory<byte> _writeData;
    private CancellationToken _cancellationToken;
    private int _queue;

    public ControllerSubmission(NvmeController controller)
    {
        _controller = controller;
        _onSlowPathCompleted = OnSlowPathCompleted;

        // The caller continues right where the sink runs: a thread-pool thread, or with NvmeCompletionMode.Inline the
        // queue's receive thread (then a continuation that blocks holds up the queue, and an exception thrown by a
        // custom awaiter's continuation ends the queue, which reconnects).
        _core.RunContinuationsAsynchronously = false;
    }

    public short Version => _core.Version;

    public void Prepare(int queue, in NvmeCommand command, Memory<byte> readBuffer, ReadOnlyMemory<byte> writeData, CancellationToken cancellationToken)
    {
        _queue = queue;
        _command = command;
        _readBuffer = readBuffer;
        _writeData = writeData;
        _cancellationToken = cancellationToken;
        _core.Reset();
    }

    void ICommandSink.Completed(CommandContext context)
    {
        NvmeCompletion completion;
        try
        {
            completion = context.TakeResult();
        }
        catch (QueueLostException ex)
        {
            Log.Retrying(_controller.Logger, _command.Opcode, ex.Message);
            TakeSlowPath(statusRetried: false);
            return;
        }
        catch (Exception ex)
        {
            _core.SetException(ex);
            return;
        }

        if (!completion.Status.IsSuccess && NvmeController.IsRetryable(completion.Status))
        {
            Log.Retrying(_controller.Logger, _command.Opcode, NvmeStatusCodes.Describe(completion.Status));
            TakeSlowPath(statusRetried: true);
            return;
        }

        _core.SetResult(completion);
    }

    NvmeCompletion IValueTaskSource<NvmeCompletion>.GetResult(short token) => Finish(token);

    void IValueTaskSource.GetResult(short token)
    {
        var opcode = _command.Opcode;
        var completion = Finish(token);
        NvmeNamespace.ThrowOnError(completion.Status, opcode);
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    /// <summary>Rare: a lost queue or a retryable status. The async path takes over from here (it may allocate).</summary>
    private void TakeSlowPath(bool statusRetried)
    {
        try
        {
#pragma warning disable CA2012 // consumed exactly once: through the awaiter kept in _slowPath
            _slowPath = _controller.SubmitSlowAsync(_queue, _command, _readBuffer, _writeData, statusRetried, _cancellationToken)
                .ConfigureAwait(false).GetAwaiter();
#pragma warning restore CA2012
        }
        catch (Exception ex)
        {
            _core.SetException(ex);
            return;
        }

        if (_slowPath.IsCompleted)
        {
            OnSlowPathCompleted();
        }
        else
        {
            _slowPath.UnsafeOnCompleted(_onSlowPathCompleted);
        }
    }

    private void OnSlowPathCompleted()
    {
        var slowPath = _slowPath;
        _slowPath = default;
        try
        {
            _core.SetResult(slowPath.GetResult());
        }
        catch (Exception ex)
        {
            _core.SetException(ex);
        }
    }

    private NvmeCompletion Finish(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _readBuffer = default;
            _writeData = default;
            _cancellationToken = default;
            _controller.ReturnSubmission(this);
        }
    }
}
