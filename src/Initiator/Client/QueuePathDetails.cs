using System.Net;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Tls;

namespace NvmeMptls.Initiator;

/// <summary>How a queue's socket really runs, whatever the policy asked for.</summary>
public enum QueueTransportMode
{
    /// <summary>Not a socket (an in-memory or connector-supplied pipe).</summary>
    None,

    /// <summary>Plain TCP, by policy.</summary>
    Tcp,

    /// <summary>MPTCP negotiated with the peer.</summary>
    Mptcp,

    /// <summary>An MPTCP socket that fell back to TCP (peer or host without MPTCP).</summary>
    MptcpFallback,
}

/// <summary>A snapshot of a queue's multipath state.</summary>
/// <param name="Mode">How the socket runs.</param>
/// <param name="FallbackReason">Why MPTCP fell back to TCP, when it did.</param>
/// <param name="Subflows">The MPTCP subflows the kernel reports (empty for TCP).</param>
public sealed record QueueMultipathInfo(QueueTransportMode Mode, string? FallbackReason, IReadOnlyList<QueueSubflow> Subflows)
{
    internal static QueueMultipathInfo? From(MultipathStatus? status)
    {
        if (status is null)
        {
            return null;
        }

        var subflows = new QueueSubflow[status.Subflows.Count];
        for (var i = 0; i < subflows.Length; i++)
        {
            var s = status.Subflows[i];
            subflows[i] = new QueueSubflow(s.Local, s.Remote, s.State, s.BytesSent, s.BytesReceived, s.Rtt) { BytesAcked = s.BytesAcked };
        }

        var mode = status.Mode switch
        {
            TransportMode.Tcp => QueueTransportMode.Tcp,
            TransportMode.Mptcp => QueueTransportMode.Mptcp,
            TransportMode.MptcpFallback => QueueTransportMode.MptcpFallback,
            _ => QueueTransportMode.None,
        };
        return new QueueMultipathInfo(mode, status.FallbackReason, subflows);
    }
}

/// <summary>One MPTCP subflow as the kernel reports it.</summary>
/// <param name="Local">Local address and port.</param>
/// <param name="Remote">Remote address and port.</param>
/// <param name="State">TCP state name ("established"…).</param>
/// <param name="BytesSent">Bytes sent on this subflow, retransmissions and sends a downed link dropped included.</param>
/// <param name="BytesReceived">Bytes received on this subflow.</param>
/// <param name="Rtt">Smoothed round-trip time.</param>
public sealed record QueueSubflow(IPEndPoint Local, IPEndPoint Remote, string State, ulong BytesSent, ulong BytesReceived, TimeSpan Rtt)
{
    /// <summary>Bytes of this subflow's sends the peer acknowledged: what the path actually carried.</summary>
    public ulong BytesAcked { get; init; }
}

/// <summary>What a queue's TLS 1.3 handshake established.</summary>
/// <param name="PskIdentity">The PSK identity offered and selected.</param>
/// <param name="CipherSuiteName">The cipher suite, e.g. <c>TLS_AES_128_GCM_SHA256</c>.</param>
/// <param name="SealProvider">What protects outgoing records ("openssl-evp", "dotnet-aesgcm", "bouncycastle", "ktls").</param>
/// <param name="OpenProvider">What opens incoming records.</param>
/// <param name="KeyExchangeGroup">The (EC)DHE group, when known.</param>
public sealed record QueueTlsInfo(string PskIdentity, string CipherSuiteName, string SealProvider, string OpenProvider, string? KeyExchangeGroup)
{
    internal static QueueTlsInfo? From(TlsSessionInfo? tls) =>
        tls is null ? null : new QueueTlsInfo(tls.PskIdentity, tls.CipherSuiteName, tls.SealProvider, tls.OpenProvider, tls.KeyExchangeGroup);
}
