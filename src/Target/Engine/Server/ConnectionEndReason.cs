namespace NvmeMptls.Target.Server;

/// <summary>
/// Why a connection (one NVMe/TCP queue) ended: the first cause recorded wins. Counted per reason in
/// <see cref="Subsystems.TargetCounters.ConnectionsEndedByReason"/> and reported to <see cref="ITargetObserver"/>.
/// </summary>
public enum ConnectionEndReason
{
    /// <summary>The host closed the connection (end of stream between PDUs).</summary>
    HostDisconnected,

    /// <summary>The host sent an H2CTermReq.</summary>
    TermReqReceived,

    /// <summary>The host broke the NVMe/TCP protocol: we sent a C2HTermReq with the fatal error status and closed.</summary>
    TermReqSent,

    /// <summary>The TLS record layer failed: a fatal alert was sent or received.</summary>
    TlsError,

    /// <summary>Reading or writing the connection failed (reset, end of stream inside a PDU, send error).</summary>
    ConnectionLost,

    /// <summary>The controller's keep-alive timer expired; every queue of the association was closed.</summary>
    KeepAliveExpired,

    /// <summary>The controller ended (its admin queue closed, its subsystem was removed, it was disposed).</summary>
    ControllerClosed,

    /// <summary>The TLS write key neared its record limit: closed so the host reconnects with fresh keys.</summary>
    TlsKeyLimit,

    /// <summary>The target is shutting down.</summary>
    ServerStopping,

    /// <summary>Closed from our side for another reason (an owner aborting the queue, a test ending).</summary>
    Aborted,

    /// <summary>
    /// The host did not finish a setup phase by its deadline (see <see cref="SetupPhase"/>): no ICReq, or no Connect.
    /// Counted per phase in <see cref="Subsystems.TargetCounters.SetupTimeouts"/>.
    /// </summary>
    SetupTimeout,

    /// <summary>
    /// In-band authentication failed: the Failure1 (or the host's Failure2) was answered and the queue closed, as the
    /// Linux target does; also when the host never fetched its Failure1.
    /// </summary>
    AuthenticationFailed,

    /// <summary>
    /// A data transfer missed its deadline: the host did not send the data an R2T asked for in time
    /// (<see cref="SetupPhase.Data"/>), or the socket took none of the pending responses in time (<see cref="SetupPhase.Send"/>).
    /// </summary>
    TransferTimeout,
}

/// <summary>
/// A phase a connection must finish by a deadline from its start, however slowly its bytes trickle in: the setup
/// phases of a new connection, then, on a connected queue, each R2T's data and each flush of responses.
/// </summary>
public enum SetupPhase
{
    /// <summary>From accept to a whole ICReq; on a TLS port, from accept to the first bytes that decide TLS or not.</summary>
    IcReq,

    /// <summary>From ICResp to a successful Fabrics Connect.</summary>
    Connect,

    /// <summary>From an R2T to the last byte of the H2CData it asked for.</summary>
    Data,

    /// <summary>From the start of a flush of pending responses (and read data) until the socket has taken it.</summary>
    Send,
}
