using System.Runtime.InteropServices;

namespace NvmeMptls.Transport.Multipath;

/// <summary>
/// Socket-level constants of Linux MPTCP (include/uapi/linux/mptcp.h, include/linux/socket.h).
/// </summary>
public static class MptcpConstants
{
    /// <summary>IPPROTO_MPTCP: the protocol number given to socket(2) for an MPTCP socket.</summary>
    public const int IPPROTO_MPTCP = 262;
    /// <summary>SOL_MPTCP: the getsockopt level of the MPTCP options below.</summary>
    public const int SOL_MPTCP = 284;
    /// <summary>struct mptcp_info of the MPTCP socket; fails with EOPNOTSUPP once the socket fell back to TCP.</summary>
    public const int MPTCP_INFO = 1;
    /// <summary>struct mptcp_subflow_data followed by one struct tcp_info per subflow.</summary>
    public const int MPTCP_TCPINFO = 2;
    /// <summary>struct mptcp_subflow_data followed by one struct mptcp_subflow_addrs per subflow.</summary>
    public const int MPTCP_SUBFLOW_ADDRS = 3;
    /// <summary>mptcpi_flags bit: the connection fell back to plain TCP.</summary>
    public const uint MPTCP_INFO_FLAG_FALLBACK = 1u << 0;
    /// <summary>mptcpi_flags bit: the peer's key arrived, i.e. MPTCP was negotiated.</summary>
    public const uint MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED = 1u << 1;
}

/// <summary>
/// struct mptcp_subflow_data (16 bytes, 8-aligned): the header in front of the per-subflow arrays of
/// MPTCP_TCPINFO and MPTCP_SUBFLOW_ADDRS. User space fills size_subflow_data and size_user; the kernel
/// writes num_subflows (all subflows, even if fewer fit) and size_kernel (its own element size).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
public struct MptcpSubflowData
{
    [FieldOffset(0)] public uint SizeSubflowData;
    [FieldOffset(4)] public uint NumSubflows;
    [FieldOffset(8)] public uint SizeKernel;
    [FieldOffset(12)] public uint SizeUser;
}

/// <summary>
/// The leading part of struct mptcp_info that we read. The kernel copies min(optlen, its size) bytes,
/// so a shorter user struct is valid; fields after bytes_acked are not needed here.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 72)]
public struct MptcpInfo
{
    /// <summary>Number of additional subflows (the initial one is not counted).</summary>
    [FieldOffset(0)] public byte Subflows;
    [FieldOffset(1)] public byte AddAddrSignal;
    [FieldOffset(2)] public byte AddAddrAccepted;
    [FieldOffset(3)] public byte SubflowsMax;
    [FieldOffset(4)] public byte AddAddrSignalMax;
    [FieldOffset(5)] public byte AddAddrAcceptedMax;
    [FieldOffset(8)] public uint Flags;
    [FieldOffset(12)] public uint Token;
    [FieldOffset(16)] public ulong WriteSeq;
    [FieldOffset(24)] public ulong SndUna;
    [FieldOffset(32)] public ulong RcvNxt;
    [FieldOffset(40)] public byte LocalAddrUsed;
    [FieldOffset(41)] public byte LocalAddrMax;
    [FieldOffset(42)] public byte CsumEnabled;
    [FieldOffset(44)] public uint Retransmits;
    [FieldOffset(48)] public ulong BytesRetrans;
    [FieldOffset(56)] public ulong BytesSent;
    [FieldOffset(64)] public ulong BytesReceived;
}

/// <summary>
/// The leading 248 bytes of struct tcp_info (include/uapi/linux/tcp.h, up to tcpi_total_rto_time):
/// only the fields a subflow listing needs are named. Element size given to the kernel as size_user.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 248)]
public struct TcpInfo
{
    /// <summary>tcpi_state: TCP_ESTABLISHED = 1 … TCP_CLOSING = 11 (include/net/tcp_states.h).</summary>
    [FieldOffset(0)] public byte State;
    /// <summary>tcpi_rtt: smoothed round-trip time in microseconds.</summary>
    [FieldOffset(68)] public uint RttMicroseconds;
    [FieldOffset(72)] public uint RttVarMicroseconds;
    [FieldOffset(80)] public uint SndCwnd;
    [FieldOffset(120)] public ulong BytesAcked;
    [FieldOffset(128)] public ulong BytesReceived;
    [FieldOffset(200)] public ulong BytesSent;
    [FieldOffset(208)] public ulong BytesRetrans;
}

/// <summary>
/// struct mptcp_subflow_addrs: two unions each the size of struct __kernel_sockaddr_storage (128 bytes)
/// holding a sockaddr_in or sockaddr_in6 (family in host order, port and address in network order).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 256)]
public struct MptcpSubflowAddrs
{
    public const int SockaddrStorageSize = 128;
    [FieldOffset(0)] public ushort LocalFamily;
    [FieldOffset(SockaddrStorageSize)] public ushort RemoteFamily;
}
