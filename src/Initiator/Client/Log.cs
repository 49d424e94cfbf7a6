using Microsoft.Extensions.Logging;

namespace NvmeMptls.Initiator;

/// <summary>Source-generated log messages of the initiator, with stable event ids (6000–6999, docs/event-ids.md).</summary>
internal static partial class Log
{
    [LoggerMessage(6000, LogLevel.Debug, "queue {QueueId} connected to {Address}:{Port}: controller {ControllerId}, header digest {HeaderDigest}, data digest {DataDigest}, MAXH2CDATA {MaxH2CData}")]
    public static partial void QueueConnected(ILogger logger, ushort queueId, string address, int port, ushort controllerId, bool headerDigest, bool dataDigest, uint maxH2CData);

    [LoggerMessage(6001, LogLevel.Warning, "queue {QueueId} lost: {Kind}: {Reason}")]
    public static partial void QueueLost(ILogger logger, ushort queueId, string kind, string reason);

    [LoggerMessage(6002, LogLevel.Warning, "queue {QueueId}: sending H2CTermReq FES 0x{Fes:x2} FEI {Fei}: {Reason}")]
    public static partial void TermReqSent(ILogger logger, ushort queueId, ushort fes, uint fei, string reason);

    [LoggerMessage(6003, LogLevel.Warning, "queue {QueueId}: data digest mismatch on command {CommandId} (DATAO {Offset}, DATAL {Length})")]
    public static partial void DataDigestMismatch(ILogger logger, ushort queueId, ushort commandId, uint offset, uint length);

    [LoggerMessage(6004, LogLevel.Warning, "queue {QueueId}: command {CommandId} (opcode 0x{Opcode:x2}) timed out; resetting")]
    public static partial void CommandTimedOut(ILogger logger, ushort queueId, ushort commandId, byte opcode);

    [LoggerMessage(6005, LogLevel.Debug, "queue {QueueId} authenticated (DH-HMAC-CHAP {Hash}, {Group}, {Direction})")]
    public static partial void QueueAuthenticated(ILogger logger, ushort queueId, string hash, string group, string direction);

    [LoggerMessage(6006, LogLevel.Information, "queue {QueueId}: secure channel concatenation generated TLS PSK {Identity}")]
    public static partial void TlsPskGenerated(ILogger logger, ushort queueId, string identity);

    [LoggerMessage(6007, LogLevel.Warning, "queue {QueueId}: closing its connection failed ({Kind}: {Reason}); the queue is closed all the same")]
    public static partial void QueueCloseError(ILogger logger, ushort queueId, string kind, string reason);

    [LoggerMessage(6023, LogLevel.Information, "secure channel concatenation: reconnecting admin and I/O queues with TLS under {Identity}")]
    public static partial void ConcatReconnecting(ILogger logger, string identity);

    [LoggerMessage(6024, LogLevel.Warning, "tearing down the lost association failed ({Kind}: {Reason}); reconnecting all the same")]
    public static partial void TearDownFailed(ILogger logger, string kind, string reason);

    [LoggerMessage(6010, LogLevel.Information, "controller {ControllerId} of {SubsystemNqn} at {Address}:{Port} live with {IoQueues} I/O queues of {QueueSize}")]
    public static partial void ControllerLive(ILogger logger, ushort controllerId, string subsystemNqn, string address, int port, int ioQueues, int queueSize);

    [LoggerMessage(6011, LogLevel.Information, "controller state {Previous} -> {Current}")]
    public static partial void StateChanged(ILogger logger, NvmeControllerState previous, NvmeControllerState current);

    [LoggerMessage(6018, LogLevel.Warning, "multipath: {ExpectedPaths} path(s) expected but {Warning}")]
    public static partial void PathWarning(ILogger logger, int expectedPaths, string warning);

    [LoggerMessage(6012, LogLevel.Warning, "reconnect attempt {Attempt} failed: {Reason}")]
    public static partial void ReconnectFailed(ILogger logger, int attempt, string reason);

    [LoggerMessage(6013, LogLevel.Warning, "keep alive failed: {Reason}")]
    public static partial void KeepAliveFailed(ILogger logger, string reason);

    [LoggerMessage(6014, LogLevel.Information, "asynchronous event: type {Type}, info 0x{Info:x2}, log page 0x{LogPage:x2}")]
    public static partial void AsyncEvent(ILogger logger, int type, int info, int logPage);

    [LoggerMessage(6015, LogLevel.Warning, "shutdown did not complete: {Reason}")]
    public static partial void ShutdownIncomplete(ILogger logger, string reason);

    [LoggerMessage(6016, LogLevel.Debug, "retrying command {Opcode:x2} after {Reason}")]
    public static partial void Retrying(ILogger logger, byte opcode, string reason);

    [LoggerMessage(6017, LogLevel.Warning, "controller granted {Granted} I/O queues of {Requested} requested")]
    public static partial void FewerQueues(ILogger logger, int granted, int requested);

    [LoggerMessage(6019, LogLevel.Information, "ANA: controller {ControllerId} reports change count {ChangeCount}: {States}")]
    public static partial void AnaRead(ILogger logger, ushort controllerId, ulong changeCount, string states);

    [LoggerMessage(6020, LogLevel.Warning, "ANA: could not read log 0Ch from controller {ControllerId}: {Reason}")]
    public static partial void AnaReadFailed(ILogger logger, ushort controllerId, string reason);

    [LoggerMessage(6021, LogLevel.Information, "multipath namespace {Nsid}: path {Path} refused I/O ({Reason}); trying another")]
    public static partial void PathFailover(ILogger logger, uint nsid, string path, string reason);

    [LoggerMessage(6022, LogLevel.Information, "multipath namespace {Nsid}: I/O now goes to {Paths}")]
    public static partial void PathsChosen(ILogger logger, uint nsid, string paths);
}
