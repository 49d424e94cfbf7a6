using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Server;

/// <summary>
/// What the engine reports as it runs, for an exporter (the service's Prometheus metrics) to count. The engine keeps
/// its own counters (<see cref="TargetCounters"/>, per-namespace counters) that an exporter samples; this seam carries
/// only the events that have no counter of their own. Calls on the completion path must not allocate.
/// </summary>
public interface ITargetObserver
{
    /// <summary>A connection was accepted on <paramref name="port"/> with this transport mode.</summary>
    void ConnectionAccepted(TargetPortInfo port, TransportMode mode);

    /// <summary>A connection on <paramref name="port"/> ended, first of all because of <paramref name="reason"/>.</summary>
    void ConnectionClosed(TargetPortInfo port, ConnectionEndReason reason);

    /// <summary>
    /// A TLS handshake ended; <paramref name="reason"/> is empty on success, else a short fixed word;
    /// <paramref name="form"/> is the PSK form of a successful one ("v0-rfc", "v0-compat", "v1-rfc", "v1-compat").
    /// </summary>
    void TlsHandshake(bool success, string reason, string form = "");

    /// <summary>A TLS connection ended with these lifetime totals.</summary>
    void TlsConnectionClosed(long sealedRecords, long openedRecords, int keyUpdatesSent, int keyUpdatesReceived);

    /// <summary>A command on a subsystem completed with an error status (<paramref name="nsid"/> 0: no namespace).</summary>
    void CommandError(string subsystemNqn, uint nsid, NvmeStatus status);

    /// <summary>The latency sink of one namespace; looked up once per namespace by a queue, then reused.</summary>
    INamespaceObserver ForNamespace(string subsystemNqn, TargetNamespace ns);
}

/// <summary>Receives the latency of each successful command on one namespace.</summary>
public interface INamespaceObserver
{
    /// <summary>A command with this opcode completed successfully after <paramref name="seconds"/>.</summary>
    void CommandCompleted(byte opcode, double seconds);
}
