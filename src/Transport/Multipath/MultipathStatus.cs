using System.Net;

namespace NvmeMptls.Transport.Multipath;

/// <summary>How a socket connection really runs.</summary>
public enum TransportMode
{
    /// <summary>Not a socket (in-memory pipe).</summary>
    None,
    /// <summary>Plain TCP, by policy (multipath disabled).</summary>
    Tcp,
    /// <summary>MPTCP negotiated with the peer.</summary>
    Mptcp,
    /// <summary>An MPTCP socket that fell back to TCP (peer or OS without MPTCP).</summary>
    MptcpFallback,
}

/// <summary>Per-connection multipath policy: <c>multipath: required | preferred | disabled</c>.</summary>
public enum MultipathPolicy
{
    Preferred,
    Required,
    Disabled,
}

/// <summary>
/// One MPTCP subflow as the kernel reports it (SOL_MPTCP MPTCP_TCPINFO / MPTCP_SUBFLOW_ADDRS).
/// BytesSent is tcpi_bytes_sent, which counts every transmission attempt, retransmissions and segments a downed
/// link dropped included; BytesAcked (tcpi_bytes_acked) is what the peer acknowledged, so it is the figure that
/// says what a path actually carried.
/// </summary>
public sealed record SubflowInfo(
    IPEndPoint Local,
    IPEndPoint Remote,
    string State,
    ulong BytesSent,
    ulong BytesReceived,
    TimeSpan Rtt)
{
    /// <summary>tcpi_bytes_acked: bytes of this subflow's sends the peer acknowledged.</summary>
    public ulong BytesAcked { get; init; }
}

/// <summary>A snapshot of a connection's multipath state.</summary>
public sealed record MultipathStatus(
    TransportMode Mode,
    string? FallbackReason,
    IReadOnlyList<SubflowInfo> Subflows)
{
    public static MultipathStatus NotASocket { get; } = new(TransportMode.None, null, []);

    /// <summary>Human-readable listing for logs and CLI status: the mode, then one line per subflow.</summary>
    public string Describe()
    {
        var sb = new System.Text.StringBuilder();
        sb.Append("mode ").Append(Mode);
        if (FallbackReason is not null)
            sb.Append(" (").Append(FallbackReason).Append(')');
        foreach (var s in Subflows)
        {
            sb.AppendLine().Append("  ").Append(s.Local).Append(" -> ").Append(s.Remote).Append(' ').Append(s.State)
              .Append(" sent ").Append(s.BytesSent).Append(" B, acked ").Append(s.BytesAcked).Append(" B, received ").Append(s.BytesReceived)
              .Append(" B, rtt ").Append(s.Rtt.TotalMilliseconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)).Append(" ms");
        }
        return sb.ToString();
    }
}
