using System.Net.Sockets;

namespace NvmeMptls.Transport.Multipath;

/// <summary>
/// Reads the kernel's MPTCP state of one socket. Portable: on other systems every socket reads as
/// "not MPTCP" and has no subflows.
/// </summary>
public static partial class MptcpSocketOptions
{
    /// <summary>
    /// True while MPTCP really runs on <paramref name="socket"/>: MPTCP_INFO succeeds only then
    /// (it fails with EOPNOTSUPP once the connection fell back to TCP, verified on 6.18), and the fallback flag is clear.
    /// </summary>
    public static bool TryGetInfo(Socket socket, out MptcpInfo info, out int errno)
    {
        info = default;
        errno = 0;
        if (!OperatingSystem.IsLinux())
        {
            errno = LinuxErrno.EOPNOTSUPP;
            return false;
        }
        return TryGetInfoLinux(socket, out info, out errno);
    }

    /// <summary>True when MPTCP is in use (not fallen back) on this socket.</summary>
    public static bool IsMptcpActive(Socket socket)
        => TryGetInfo(socket, out var info, out _) && (info.Flags & MptcpConstants.MPTCP_INFO_FLAG_FALLBACK) == 0;

    /// <summary>
    /// The socket's subflows (address pairs from MPTCP_SUBFLOW_ADDRS, counters from MPTCP_TCPINFO);
    /// empty when the socket is not an active MPTCP socket.
    /// </summary>
    public static IReadOnlyList<SubflowInfo> GetSubflows(Socket socket)
        => OperatingSystem.IsLinux() ? GetSubflowsLinux(socket) : [];

    /// <summary>Name of a tcpi_state value (include/net/tcp_states.h).</summary>
    public static string TcpStateName(byte state) => state switch
    {
        1 => "established",
        2 => "syn-sent",
        3 => "syn-recv",
        4 => "fin-wait1",
        5 => "fin-wait2",
        6 => "time-wait",
        7 => "close",
        8 => "close-wait",
        9 => "last-ack",
        10 => "listen",
        11 => "closing",
        12 => "new-syn-recv",
        _ => "unknown(" + state + ")",
    };
}

/// <summary>errno values shared by the portable and Linux parts.</summary>
internal static class LinuxErrno
{
    public const int EOPNOTSUPP = 95;
}
