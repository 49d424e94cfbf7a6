using NvmeMptls.Target.Commands;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.Transport.Connections;

namespace NvmeMptls.Target.Tcp;

/// <summary>
/// io_uring namespaces in batches, in both send modes: the commands one receive burst starts enter the kernel together
/// when the burst ends (<see cref="SubmissionBatch"/>), and answers that an io_uring reaper queued are sent once per
/// batch of completions from its thread (<see cref="CompletionBatch"/>). The queue's <see cref="BurstEndReader"/> says
/// when a burst ends, through <see cref="BurstEnds"/>, which then hands on to burst mode's sender.
/// </summary>
public sealed partial class TargetQueue : IDeferredDrain
{
    /// <summary>io_uring submissions of the commands this receive burst started, entered into the kernel when it ends.</summary>
    private readonly SubmissionBatch _submissions = new();

    private long _deferredDrains;

    /// <summary>
    /// Starts a command the receive loop completed; an io_uring namespace only prepares its submission, which the
    /// burst's end (or the loop's end) hands to the kernel with the rest of the burst's.
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

    /// <summary>
    /// The batch of device completions that queued answers here is handled: send them from this thread. Over TLS the
    /// drain may wait for the record layer's write lock (a KeyUpdate holds it across a flush to the peer), which must
    /// not stall a reaper that serves every connection of the namespace: the send task sends them instead.
    /// </summary>
    void IDeferredDrain.DrainDeferred()
    {
        Interlocked.Increment(ref _deferredDrains);
        if (_burst is null)
        {
            return;
        }

        if (_connection.Tls is null)
        {
            _burst.DrainHere();
        }
        else
        {
            _burst.OnPosted();
        }
    }

    /// <summary>Batches of device completions whose answers to this queue went out through <see cref="IDeferredDrain.DrainDeferred"/> (tests).</summary>
    internal long DeferredDrains => Interlocked.Read(ref _deferredDrains);

    /// <summary>
    /// The receive loop's burst ends, seen by its <see cref="BurstEndReader"/> (private, so only the receive loop, the
    /// owner of the unlocked <see cref="SubmissionBatch"/>, calls it).
    /// </summary>
    private sealed class BurstEnds(TargetQueue queue) : IReceiveBurst
    {
        /// <summary>Every byte received so far is handled: the burst's I/O goes to the kernel first, then its answers to the host.</summary>
        public ValueTask OnBurstEndAsync(CancellationToken cancellationToken)
        {
            queue._submissions.Flush();
            return queue._burst is IReceiveBurst burst ? burst.OnBurstEndAsync(cancellationToken) : default;
        }

        public void OnBurstStart()
        {
            if (queue._burst is IReceiveBurst burst)
            {
                burst.OnBurstStart();
            }
        }
    }
}
