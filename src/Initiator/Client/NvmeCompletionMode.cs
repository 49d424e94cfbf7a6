namespace NvmeMptls.Initiator;

/// <summary>Where an I/O command's completion runs (<see cref="NvmeControllerOptions.CompletionMode"/>).</summary>
public enum NvmeCompletionMode
{
    /// <summary>
    /// On a thread-pool thread: the caller's continuation may block or do heavy work without holding up the queue. A
    /// send task on the thread pool writes the queued commands. Two thread hops per command.
    /// </summary>
    ThreadPool,

    /// <summary>
    /// On the I/O queue's receive thread, which also runs the socket's receive and send (SPDK's reactor shape): a
    /// completion, the next command its caller submits and the send of every command submitted in that receive burst
    /// happen on one thread, with one send per burst. The caller's continuation must not block: it would hold up the
    /// queue. The admin queue always completes on the thread pool.
    /// </summary>
    Inline,
}
