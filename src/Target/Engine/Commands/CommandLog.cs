using System.Net;
using Microsoft.Extensions.Logging;

namespace NvmeMptls.Target.Commands;

/// <summary>The command layer's log messages (engine block, docs/event-ids.md).</summary>
internal static partial class CommandLog
{
    [LoggerMessage(EventId = 3105, Level = LogLevel.Information, Message = "Connection {Remote}: {Kind} queue {Qid} connected to controller {ControllerId} of {SubsystemNqn} for host {HostNqn}")]
    public static partial void QueueConnected(ILogger logger, EndPoint? remote, string kind, ushort qid, ushort controllerId, string subsystemNqn, string hostNqn);

    [LoggerMessage(EventId = 3106, Level = LogLevel.Warning, Message = "Connection {Remote}: Connect refused ({Status}): {Detail}")]
    public static partial void ConnectRefused(ILogger logger, EndPoint? remote, string status, string detail);

    [LoggerMessage(EventId = 3108, Level = LogLevel.Warning, Message = "Connection {Remote}: I/O error on command {Cid} (opcode {Opcode:x2}): {Detail}")]
    public static partial void DeviceError(ILogger logger, EndPoint? remote, ushort cid, byte opcode, string detail);
}
