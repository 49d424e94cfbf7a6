namespace NvmeMptls.Initiator;

/// <summary>Life cycle of an <see cref="NvmeController"/>, like the Linux host's controller states.</summary>
public enum NvmeControllerState
{
    /// <summary>First association being set up.</summary>
    Connecting,
    /// <summary>All queues connected; commands flow.</summary>
    Live,
    /// <summary>A queue was lost: queues torn down, reconnecting; commands wait and are retried.</summary>
    Resetting,
    /// <summary>The controller loss timeout ran out: commands fail with <see cref="IOException"/>.</summary>
    Failed,
    /// <summary>Disposed (shut down).</summary>
    Closed,
}

/// <summary>Data of <see cref="NvmeController.StateChanged"/>.</summary>
/// <param name="Previous">The state before.</param>
/// <param name="Current">The state now.</param>
/// <param name="Reason">Why, when the change was caused by an error.</param>
public sealed record NvmeControllerStateChange(NvmeControllerState Previous, NvmeControllerState Current, Exception? Reason);

/// <summary>Data of <see cref="NvmeController.NamespacesChanged"/>: the Changed Namespace List (log 04h).</summary>
/// <param name="Namespaces">Changed NSIDs; a single 0xFFFFFFFF means more than 1024 changed.</param>
public sealed record NvmeNamespacesChange(IReadOnlyList<uint> Namespaces);
