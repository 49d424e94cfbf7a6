namespace NvmeMptls.Target.Server;

/// <summary>
/// A limit that held a peer back: counted per kind in <see cref="Subsystems.TargetCounters.LimitsReached"/> (metric
/// <c>nvmemptls_limit_reached_total{limit}</c>) each time it fires. The first three refuse a connection at accept,
/// the next two refuse a Connect, the last three delay a command (its R2T or its read) until memory or an R2T comes back.
/// </summary>
public enum LimitKind
{
    /// <summary>Target:Limits:MaxConnections — the connection was closed at accept, before ICReq.</summary>
    Connections,

    /// <summary>Target:Limits:MaxConnectionsPerAddress — closed at accept, before ICReq.</summary>
    ConnectionsPerAddress,

    /// <summary>Target:Limits:MaxConnectionsPerHost — the Connect was answered with Connect Controller Busy.</summary>
    ConnectionsPerHost,

    /// <summary>Target:Limits:MaxControllersPerHost — the admin Connect was answered with Connect Controller Busy.</summary>
    ControllersPerHost,

    /// <summary>Target:Limits:MaxQueueSize or MaxIoQueues — a Connect answered with Connect Invalid Parameters (SQSIZE or QID).</summary>
    QueueParameters,

    /// <summary>Target:Limits:MaxBufferedBytes — a command waited for the process-wide data buffer budget.</summary>
    BufferedBytes,

    /// <summary>Target:Limits:MaxConnectionBufferedBytes — a command waited for its connection's data buffer budget.</summary>
    ConnectionBufferedBytes,

    /// <summary>Target:Limits:MaxOutstandingR2T — a write's R2T waited for an outstanding one to finish.</summary>
    OutstandingR2T,
}
