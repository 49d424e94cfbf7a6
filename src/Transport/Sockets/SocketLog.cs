using System.Net;
using Microsoft.Extensions.Logging;

namespace NvmeMptls.Transport.Sockets;

/// <summary>Log lines of the socket layer; event ids 1000–1099 are stable (docs/event-ids.md).</summary>
internal static partial class SocketLog
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "MPTCP unavailable, using plain TCP: {Reason}")]
    public static partial void MptcpSocketRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Connection {Local} -> {Remote} fell back from MPTCP to TCP: {Reason}")]
    public static partial void PeerFellBack(ILogger logger, EndPoint? local, EndPoint? remote, string reason);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Refused connection from {Remote}: {Reason}")]
    public static partial void RefusedFallback(ILogger logger, EndPoint? remote, string reason);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Debug, Message = "Connection {Remote}: peer closed its sending side")]
    public static partial void PeerFin(ILogger logger, EndPoint? remote);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Debug, Message = "Connection {Remote}: {Direction} ended with {Kind}")]
    public static partial void LoopError(ILogger logger, EndPoint? remote, string direction, ConnectionErrorKind kind, Exception exception);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Debug, Message = "Connection {Remote}: aborted locally")]
    public static partial void Aborted(ILogger logger, EndPoint? remote);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Information, Message = "Listening on {EndPoint} ({Transport})")]
    public static partial void Listening(ILogger logger, EndPoint? endPoint, string transport);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Debug, Message = "Connected {Local} -> {Remote} over {Transport}")]
    public static partial void Connected(ILogger logger, EndPoint? local, EndPoint? remote, string transport);
}
