using NvmeMptls.Target.Commands;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Server;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.Target.Tcp;

/// <summary>
/// Burst mode (<see cref="QueueSendMode.Burst"/>): the receive loop writes and flushes the answers of a burst itself,
/// when its <see cref="BurstEndReader"/> says every received byte is used; answers queued from other threads while it
/// waits for the host kick the send task. The turn-taking between the two writers is <see cref="BurstSender"/>'s, the
/// same as the initiator's; this queue gives it the answers to drain.
/// </summary>
public sealed partial class TargetQueue : IBurstDrain, IReceiveBurst, IDeferredDrain
{
    /// <summary>Burst mode's writer turns; null in loop mode.</summary>
    private readonly BurstSender? _burst;

    /// <summary>io_uring submissions of the commands this receive burst started, entered into the kernel when it ends.</summary>
    private readonly SubmissionBatch _submissions = new();

    /// <summary>
    /// Starts a command the receive loop completed; an io_uring namespace only prepares its submission, which
    /// <see cref="IReceiveBurst.OnBurstEndAsync"/> (or the loop's end) hands to the kernel with the rest of the burst's.
    /// </summary>
    private void ExecuteInBurst(CommandContext ctx)
    {
        var previous = _submissions.Enter();
        try
        {
            _commands.Execute(ctx);
        }
        finally
        {
            SubmissionBatch.Exit(previous);
        }
    }

    /// <summary>Every byte received so far is handled: the burst's I/O goes to the kernel first, then its answers to the host.</summary>
    ValueTask IReceiveBurst.OnBurstEndAsync(CancellationToken cancellationToken)
    {
        _submissions.Flush();
        return _burst is null ? default : ((IReceiveBurst)_burst).OnBurstEndAsync(cancellationToken);
    }

    void IReceiveBurst.OnBurstStart()
    {
        if (_burst is not null)
        {
            ((IReceiveBurst)_burst).OnBurstStart();
        }
    }

    /// <summary>Queues an answer; false when the connection is closing (the caller frees the command).</summary>
    private bool Post(in SendItem item)
    {
        if (!_send.Writer.TryWrite(item))
        {
            return false;
        }

        // On an io_uring reaper the answer goes out with the rest of its batch of completions (DrainDeferred).
        if (_burst is not null && !CompletionBatch.TryDefer(this))
        {
            _burst.OnPosted();
        }

        return true;
    }

    /// <summary>The batch of device completions that queued answers here is handled: send them from this thread.</summary>
    void IDeferredDrain.DrainDeferred() => _burst?.DrainHere(_runToken);

    /// <summary>The receive side ended: the send task drains what is left (a TermReq among it) and ends.</summary>
    private void CompleteSending()
    {
        _send.Writer.TryComplete();
        _burst?.CompleteReceive();
    }

    bool IBurstDrain.HasQueued => _send.Reader.Count != 0;

    ValueTask<bool> IBurstDrain.DrainAsync(CancellationToken cancellationToken) => DrainAsync(cancellationToken);
}
