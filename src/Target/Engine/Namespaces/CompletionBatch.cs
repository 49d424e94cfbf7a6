namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// A connection whose answers a <see cref="CompletionBatch"/> sends once its batch of completions is handled. An
/// interface with one implementation (the target's queue) because the namespaces do not know the transport's queues.
/// </summary>
internal interface IDeferredDrain
{
    /// <summary>Sends what the batch queued, on the calling thread if the connection's writer is free; never throws.</summary>
    void DrainDeferred();
}

/// <summary>
/// The answers of one batch of device completions, sent when the batch is handled instead of one wake-up of each
/// connection's send task per answer. An io_uring reaper handles the completions the kernel posted (at most
/// <see cref="MaxCompletions"/> at a time) inside <see cref="Enter"/> … <see cref="Exit"/>; a connection that queues an
/// answer there joins the batch through <see cref="TryDefer"/>; <see cref="Run"/> then drains each joined connection
/// once, on the reaper's thread (a connection in a receive burst sends at the burst's end instead). Per thread, used by
/// one loop, no lock; allocates only when a batch touches more connections than any batch before.
/// </summary>
internal sealed class CompletionBatch
{
    /// <summary>Completions handled before the batch's answers go out, so that early answers do not wait for a long run of completions.</summary>
    public const int MaxCompletions = 64;

    [ThreadStatic]
    private static CompletionBatch? t_current;

    private readonly List<IDeferredDrain> _members = new(4);

    /// <summary>Answers queued on this thread from now until <see cref="Exit"/> are sent by <see cref="Run"/>. Returns the scope to restore.</summary>
    public CompletionBatch? Enter()
    {
        var previous = t_current;
        t_current = this;
        return previous;
    }

    public static void Exit(CompletionBatch? previous) => t_current = previous;

    /// <summary>Connections waiting for <see cref="Run"/>.</summary>
    public int Count => _members.Count;

    /// <summary>
    /// Joins <paramref name="member"/> to the batch of this thread, if there is one: true when the batch will drain it,
    /// false when the caller must wake its sender itself.
    /// </summary>
    public static bool TryDefer(IDeferredDrain member)
    {
        var batch = t_current;
        if (batch is null)
        {
            return false;
        }

        if (!batch._members.Contains(member))
        {
            batch._members.Add(member);
        }

        return true;
    }

    /// <summary>Drains every connection that joined, once each, and empties the batch.</summary>
    public void Run()
    {
        var members = _members;
        try
        {
            for (var i = 0; i < members.Count; i++)
            {
                members[i].DrainDeferred();
            }
        }
        finally
        {
            members.Clear();
        }
    }
}
