namespace NvmeMptls.Initiator;

/// <summary>
/// What an <see cref="NvmeQueueConnector"/> needs to open one queue's byte stream.
/// </summary>
/// <param name="QueueId">0 for the admin queue, 1..N for I/O queues.</param>
/// <param name="Address">Target address.</param>
/// <param name="Port">Target port.</param>
/// <param name="Options">The controller's options (multipath policy, TLS settings…).</param>
public sealed record NvmeQueueEndpoint(ushort QueueId, string Address, int Port, NvmeControllerOptions Options);
