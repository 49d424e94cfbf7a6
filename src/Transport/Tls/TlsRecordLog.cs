using Microsoft.Extensions.Logging;

namespace NvmeMptls.Transport.Tls;

internal static partial class TlsRecordLog
{
    [LoggerMessage(EventId = 4101, Level = LogLevel.Warning, Message = "TLS record layer sent fatal alert {Alert}: {Reason}")]
    public static partial void SentFatalAlert(ILogger logger, TlsAlertDescription alert, string reason);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "TLS peer sent fatal alert {Alert}")]
    public static partial void ReceivedFatalAlert(ILogger logger, TlsAlertDescription alert);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Information, Message = "TLS peer updated its traffic key (update_requested={Requested})")]
    public static partial void PeerKeyUpdate(ILogger logger, bool requested);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Information, Message = "TLS write key updated after {Records} records")]
    public static partial void SentKeyUpdate(ILogger logger, long records);

    [LoggerMessage(EventId = 4105, Level = LogLevel.Warning, Message = "TLS write key reached {Records} records; reconnect requested before the AES-GCM limit")]
    public static partial void KeyLimitApproaching(ILogger logger, long records);

    [LoggerMessage(EventId = 4106, Level = LogLevel.Debug, Message = "TLS receive side ended: {Reason}")]
    public static partial void ReceiveEnded(ILogger logger, string reason);
}
