using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace NvmeMptls.Transport.Multipath;

public static partial class MptcpSocketOptions
{
    private const int InitialSubflowCapacity = 8;
    private const int AfInet = 2;
    private const int AfInet6 = 10;

    private static unsafe bool TryGetInfoLinux(Socket socket, out MptcpInfo info, out int errno)
    {
        MptcpInfo value = default;
        uint length = (uint)sizeof(MptcpInfo);
        int rc = LinuxNative.GetSockOpt(socket.SafeHandle, MptcpConstants.SOL_MPTCP, MptcpConstants.MPTCP_INFO, &value, ref length);
        errno = rc == 0 ? 0 : Marshal.GetLastPInvokeError();
        info = value;
        return rc == 0;
    }

    private static List<SubflowInfo> GetSubflowsLinux(Socket socket)
    {
        var tcpInfos = ReadSubflowArray<TcpInfo>(socket, MptcpConstants.MPTCP_TCPINFO, out int tcpCount);
        var addrs = ReadSubflowArray<MptcpSubflowAddrs>(socket, MptcpConstants.MPTCP_SUBFLOW_ADDRS, out int addrCount);
        if (tcpInfos is null || addrs is null)
            return [];

        int tcpSize = Marshal.SizeOf<TcpInfo>();
        int addrSize = Marshal.SizeOf<MptcpSubflowAddrs>();
        // Both options walk the subflow list in the same order; a subflow that came or went between the two
        // calls shifts the lists, so only the common prefix is paired.
        int count = Math.Min(tcpCount, addrCount);
        var result = new List<SubflowInfo>(count);
        for (int i = 0; i < count; i++)
        {
            var tcp = MemoryMarshal.Read<TcpInfo>(tcpInfos.AsSpan(i * tcpSize, tcpSize));
            var addr = addrs.AsSpan(i * addrSize, addrSize);
            var local = ParseSockaddr(addr[..MptcpSubflowAddrs.SockaddrStorageSize]);
            var remote = ParseSockaddr(addr[MptcpSubflowAddrs.SockaddrStorageSize..]);
            result.Add(new SubflowInfo(local, remote, TcpStateName(tcp.State), tcp.BytesSent, tcp.BytesReceived,
                TimeSpan.FromMicroseconds(tcp.RttMicroseconds)) { BytesAcked = tcp.BytesAcked });
        }
        return result;
    }

    /// <summary>
    /// Calls one of the mptcp_subflow_data options and returns the element bytes (count elements of
    /// sizeof(T), each zero-padded if the kernel's element is shorter); null when the socket is not MPTCP.
    /// </summary>
    private static unsafe byte[]? ReadSubflowArray<T>(Socket socket, int option, out int count) where T : unmanaged
    {
        int headerSize = sizeof(MptcpSubflowData);
        int elementSize = sizeof(T);
        int capacity = InitialSubflowCapacity;
        while (true)
        {
            var buffer = new byte[headerSize + capacity * elementSize];
            var header = new MptcpSubflowData { SizeSubflowData = (uint)headerSize, SizeUser = (uint)elementSize };
            MemoryMarshal.Write(buffer, in header);
            uint length = (uint)buffer.Length;
            int rc;
            fixed (byte* p = buffer)
                rc = LinuxNative.GetSockOpt(socket.SafeHandle, MptcpConstants.SOL_MPTCP, option, p, ref length);
            if (rc != 0)
            {
                count = 0;
                return null;
            }
            header = MemoryMarshal.Read<MptcpSubflowData>(buffer);
            if (header.NumSubflows > capacity)
            {
                capacity = (int)header.NumSubflows;
                continue;
            }
            count = (int)header.NumSubflows;
            // The kernel copies min(size_user, size_kernel) per element, at a stride of size_user.
            return buffer.AsSpan(headerSize, count * elementSize).ToArray();
        }
    }

    /// <summary>sockaddr_in / sockaddr_in6: family in host order, port and address in network order.</summary>
    internal static IPEndPoint ParseSockaddr(ReadOnlySpan<byte> sa)
    {
        int family = MemoryMarshal.Read<ushort>(sa);
        int port = BinaryPrimitives.ReadUInt16BigEndian(sa[2..]);
        return family switch
        {
            AfInet => new IPEndPoint(new IPAddress(sa.Slice(4, 4)), port),
            AfInet6 => new IPEndPoint(new IPAddress(sa.Slice(8, 16), MemoryMarshal.Read<uint>(sa[24..])), port),
            _ => new IPEndPoint(IPAddress.None, 0),
        };
    }
}
