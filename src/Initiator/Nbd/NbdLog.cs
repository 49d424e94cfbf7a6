using Microsoft.Extensions.Logging;

namespace NvmeMptls.Initiator.Nbd;

internal static partial class NbdLog
{
    [LoggerMessage(EventId = 7001, Level = LogLevel.Information, Message = "NBD export '{ExportName}' listening on {EndPoint} ({Size} bytes, {Devices} device(s))")]
    public static partial void Listening(ILogger logger, string exportName, string endPoint, ulong size, int devices);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Debug, Message = "NBD connection {Connection} accepted, device {Device}")]
    public static partial void Accepted(ILogger logger, long connection, int device);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Debug, Message = "NBD connection {Connection} ended: {Reason}")]
    public static partial void Ended(ILogger logger, long connection, string reason);

    [LoggerMessage(EventId = 7004, Level = LogLevel.Warning, Message = "NBD connection {Connection} failed")]
    public static partial void ConnectionFailed(ILogger logger, long connection, Exception exception);

    [LoggerMessage(EventId = 7005, Level = LogLevel.Debug, Message = "NBD option {Option} answered with {Reply}")]
    public static partial void OptionRefused(ILogger logger, uint option, string reply);

    [LoggerMessage(EventId = 7006, Level = LogLevel.Warning, Message = "NBD {Command} at {Offset} length {Length} failed with errno {Errno}")]
    public static partial void RequestFailed(ILogger logger, string command, ulong offset, uint length, uint errno, Exception exception);

    [LoggerMessage(EventId = 7007, Level = LogLevel.Information, Message = "NBD server stopped after {Connections} connection(s)")]
    public static partial void Stopped(ILogger logger, long connections);

    [LoggerMessage(EventId = 7008, Level = LogLevel.Warning, Message = "NBD protocol violation on connection {Connection}: {Reason}")]
    public static partial void ProtocolViolation(ILogger logger, long connection, string reason);

    [LoggerMessage(EventId = 7009, Level = LogLevel.Warning, Message = "Flush at NBD server stop failed")]
    public static partial void StopFlushFailed(ILogger logger, Exception exception);
}
