namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// io_uring submissions held back while a connection's receive loop handles one receive burst, and handed to the
/// kernel in one io_uring_enter per ring when the burst ends (<see cref="Flush"/>), as SPDK's reactor submits once per
/// poll. One entry per call costs a system call and, on a virtio disk, one doorbell write (a VM exit) per I/O: the
/// block layer plugs a submission of several entries and dispatches them with one kick, but a lone entry is kicked by
/// itself. Requests started on this thread inside <see cref="Enter"/> … <see cref="Exit"/> are prepared in the ring
/// and only counted here; requests started anywhere else go in at once.
/// <para>
/// The owner (one receive loop) must call <see cref="Flush"/> before it waits for anything, and when it ends: a
/// prepared entry goes in no later than that (or earlier, when any other caller enters the same ring). Code inside the
/// scope that waits synchronously for device completions (the reservation gate's drain) flushes
/// <see cref="Current"/> first. Used by one loop at a time, so it needs no lock; the scope is per thread and only spans
/// synchronous code.
/// </para>
/// </summary>
internal sealed class SubmissionBatch
{
    [ThreadStatic]
    private static SubmissionBatch? t_current;

    /// <summary>The ring that held back entries (nearly always the only one: a queue's I/O goes to few namespaces).</summary>
    private IoUringFile? _first;

    /// <summary>Further rings with held-back entries in this burst, when commands of one burst hit several io_uring namespaces.</summary>
    private List<IoUringFile>? _more;

    /// <summary>The batch that requests started on this thread join, if any.</summary>
    internal static SubmissionBatch? Current => t_current;

    /// <summary>Requests started on this thread from now until <see cref="Exit"/> join this batch. Returns the scope to restore.</summary>
    public SubmissionBatch? Enter()
    {
        var previous = t_current;
        t_current = this;
        return previous;
    }

    /// <summary>Ends the scope <see cref="Enter"/> opened (entries already held back stay held until <see cref="Flush"/>).</summary>
    public static void Exit(SubmissionBatch? previous) => t_current = previous;

    /// <summary>True while entries wait for <see cref="Flush"/>.</summary>
    public bool HasPending => _first is not null;

    /// <summary>A ring prepared an entry for this batch without entering the kernel.</summary>
    internal void Defer(IoUringFile ring)
    {
        if (_first is null)
        {
            _first = ring;
            return;
        }

        if (ReferenceEquals(_first, ring))
        {
            return;
        }

        _more ??= [];
        if (!_more.Contains(ring))
        {
            _more.Add(ring);
        }
    }

    /// <summary>Hands every held-back entry to the kernel: one io_uring_enter per ring.</summary>
    public void Flush()
    {
        var first = _first;
        if (first is null)
        {
            return;
        }

        _first = null;
        try
        {
            first.SubmitDeferred();
        }
        finally
        {
            if (_more is { Count: > 0 } more)
            {
                try
                {
                    for (var i = 0; i < more.Count; i++)
                    {
                        more[i].SubmitDeferred();
                    }
                }
                finally
                {
                    more.Clear();
                }
            }
        }
    }
}
