using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Server;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.Target.Tcp;

/// <summary>
/// Burst mode (<see cref="QueueSendMode.Burst"/>): the receive loop writes and flushes the answers of a burst itself,
/// when its <see cref="BurstEndReader"/> says every received byte is used; answers queued from other threads while it
/// waits for the host kick the send task. The turn-taking between the two writers is <see cref="BurstSender"/>'s, the
/// same as the initiator's; this queue gives it the answers to drain. Answers queued on an io_uring reaper go out
/// with the rest of its batch of completions (TargetQueue.IoBatches.cs).
/// </summary>
public sealed partial class TargetQueue : IBurstDrain
{
    /// <summary>Burst mode's writer turns; null in loop mode.</summary>
    private readonly BurstSender? _burst;

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

    /// <summary>The receive side ended: the send task drains what is left (a TermReq among it) and ends.</summary>
    private void CompleteSending()
    {
        _send.Writer.TryComplete();
        _burst?.CompleteReceive();
    }

    bool IBurstDrain.HasQueued => _send.Reader.Count != 0;

    ValueTask<bool> IBurstDrain.DrainAsync(CancellationToken cancellationToken) => DrainAsync(cancellationToken);
}
