using Microsoft.Extensions.Logging;

namespace NvmeMptls.Transport.Tls;

internal static partial class TlsRecordLog
{
    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "TLS record layer sent fatal alert {Alert}: {Reason}")]
    public static partial void SentFatalAlert(ILogger logger, TlsAlertDescription alert, string reason);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Warning, Message = "TLS peer sent fatal alert {Alert}")]
    public static partial void ReceivedFatalAlert(ILogger logger, TlsAlertDescription alert);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Information, Message = "TLS peer updated its traffic key (update_requested={Requested})")]
    public static partial void PeerKeyUpdate(ILogger logger, bool requested);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Information, Message = "TLS write key updated after {Records} records")]
    public static partial void SentKeyUpdate(ILogger logger, long records);

    [LoggerMessage(EventId = 1205, Level = LogLevel.Warning, Message = "TLS write key reached {Records} records; reconnect requested before the AES-GCM limit")]
    public static partial void KeyLimitApproaching(ILogger logger, long records);

    [LoggerMessage(EventId = 1206, Level = LogLevel.Debug, Message = "TLS receive side ended: {Reason}")]
    public static partial void ReceiveEnded(ILogger logger, string reason);
}
