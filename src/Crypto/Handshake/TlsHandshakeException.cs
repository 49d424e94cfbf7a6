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

    /// <summary>Server: the identities the client offered, printable, when the ClientHello got that far ("" otherwise).</summary>
    public string OfferedIdentity { get; init; } = "";

    /// <summary>Server: the derivation forms whose PSK binder was checked ("v0-rfc, v0-compat"; "none"; "" before the ClientHello).</summary>
    public string FormsTried { get; init; } = "";

    /// <summary>The alert sent or received, when one was.</summary>
    public TlsAlertDescription? Alert { get; }
}
