namespace NvmeMptls.Initiator.Queue;

/// <summary>Takes the end of a command sent without an awaiter (<see cref="HostQueue.TrySubmit"/>), on a thread-pool thread.</summary>
internal interface ICommandSink
{
    /// <summary>The command ended; call <see cref="CommandContext.TakeResult"/> exactly once.</summary>
    void Completed(CommandContext context);
}
