namespace NvmeMptls.Initiator.Queue;

/// <summary>The queue's connection ended before the command completed; the controller retries it after reconnecting.</summary>
internal sealed class QueueLostException : IOException
{
    public QueueLostException(ushort queueId, Exception? cause)
        : base($"queue {queueId} lost: {cause?.Message ?? "closed"}", cause)
    {
        QueueId = queueId;
    }

    public ushort QueueId { get; }
}
