using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Crypto.Handshake;

/// <summary>A failed NVMe/TCP TLS handshake, with a reason the caller can count and the alert involved, if any.</summary>
public sealed class TlsHandshakeException : IOException
{
    public TlsHandshakeException(TlsHandshakeFailure reason, string message, TlsAlertDescription? alert = null, Exception? inner = null)
        : base($"TLS handshake failed ({reason}): {message}", inner)
    {
        Reason = reason;
        Alert = alert;
    }

    public TlsHandshakeFailure Reason { get; }

    /// <summary>The alert sent or received, when one was.</summary>
    public TlsAlertDescription? Alert { get; }
}
