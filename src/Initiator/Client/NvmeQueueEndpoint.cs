namespace NvmeMptls.Initiator;

/// <summary>
/// What a connection factory needs to open one queue's byte stream. A factory is a
/// <c>Func&lt;NvmeQueueEndpoint, CancellationToken, ValueTask&lt;StreamConnection&gt;&gt;</c> that returns the stream
/// connected and, for TLS, past the handshake: NVMe/TCP starts with ICReq on it.
/// </summary>
/// <param name="QueueId">0 for the admin queue, 1..N for I/O queues.</param>
/// <param name="Address">Target address.</param>
/// <param name="Port">Target port.</param>
/// <param name="Options">The controller's options (multipath policy, TLS settings…).</param>
public sealed record NvmeQueueEndpoint(ushort QueueId, string Address, int Port, NvmeControllerOptions Options);
