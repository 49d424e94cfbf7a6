namespace NvmeMptls.Target.Tcp;

/// <summary>How a queue's answers (R2T, C2HData, CapsuleResp) reach the socket (Target:SendMode).</summary>
public enum QueueSendMode
{
    /// <summary>
    /// Each queue has a send task on the thread pool that writes queued answers and flushes whenever there are some.
    /// Every burst of answers costs a thread hop, and at low depth often a flush per answer.
    /// </summary>
    Loop,

    /// <summary>
    /// The receive loop writes the answers of a burst of commands itself and flushes once, when it has used every byte
    /// received and would wait (like SPDK's reactor at the end of a poll); the socket's loops run inline with it.
    /// Answers from other threads (file and RBD I/O, timers, events) still go through the send task.
    /// </summary>
    Burst,
}
