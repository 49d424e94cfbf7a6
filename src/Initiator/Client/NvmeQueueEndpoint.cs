using NvmeMptls.Transport.Connections;

namespace NvmeMptls.Initiator;

/// <summary>What a connection factory needs to open one queue's byte stream.</summary>
/// <param name="QueueId">0 for the admin queue, 1..N for I/O queues.</param>
/// <param name="Address">Target address.</param>
/// <param name="Port">Target port.</param>
/// <param name="Options">The controller's options (multipath policy, TLS settings…).</param>
public sealed record NvmeQueueEndpoint(ushort QueueId, string Address, int Port, NvmeControllerOptions Options);

/// <summary>
/// Opens the byte stream of one queue (TCP, MPTCP, TLS over either, or an in-memory pipe in tests). The
/// stream must be connected and, for TLS, past the handshake: NVMe/TCP starts with ICReq on it.
/// </summary>
public delegate ValueTask<StreamConnection> NvmeConnectionFactory(NvmeQueueEndpoint endpoint, CancellationToken cancellationToken);
