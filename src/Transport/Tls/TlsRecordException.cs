namespace NvmeMptls.Transport.Tls;

/// <summary>A record-layer failure: the alert we sent (or received, when <see cref="FromPeer"/>) and why.</summary>
public sealed class TlsRecordException : IOException
{
    public TlsRecordException(TlsAlertDescription alert, bool fromPeer, string message)
        : base(message)
    {
        Alert = alert;
        FromPeer = fromPeer;
    }

    public TlsAlertDescription Alert { get; }

    /// <summary>True when the peer sent this alert; false when we detected the problem and sent it.</summary>
    public bool FromPeer { get; }
}
