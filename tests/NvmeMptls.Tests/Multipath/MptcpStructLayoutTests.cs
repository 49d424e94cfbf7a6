using System.Net;
using System.Runtime.InteropServices;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.Tests.Multipath;

/// <summary>Pins the sizes and offsets of the uapi structs (include/uapi/linux/mptcp.h, linux/tcp.h) and of msghdr/iovec.</summary>
public sealed class MptcpStructLayoutTests
{
    [Test]
    public void SubflowData_Is16BytesWithFieldsInUapiOrder()
    {
        Assert.That(Marshal.SizeOf<MptcpSubflowData>(), Is.EqualTo(16));
        Assert.That(Offset<MptcpSubflowData>(nameof(MptcpSubflowData.SizeSubflowData)), Is.EqualTo(0));
        Assert.That(Offset<MptcpSubflowData>(nameof(MptcpSubflowData.NumSubflows)), Is.EqualTo(4));
        Assert.That(Offset<MptcpSubflowData>(nameof(MptcpSubflowData.SizeKernel)), Is.EqualTo(8));
        Assert.That(Offset<MptcpSubflowData>(nameof(MptcpSubflowData.SizeUser)), Is.EqualTo(12));
    }

    [Test]
    public void MptcpInfo_FieldOffsetsMatchUapi()
    {
        Assert.That(Marshal.SizeOf<MptcpInfo>(), Is.EqualTo(72));
        Assert.That(Offset<MptcpInfo>(nameof(MptcpInfo.AddAddrAcceptedMax)), Is.EqualTo(5));
        Assert.That(Offset<MptcpInfo>(nameof(MptcpInfo.Flags)), Is.EqualTo(8), "after the 16-bit hole");
        Assert.That(Offset<MptcpInfo>(nameof(MptcpInfo.Token)), Is.EqualTo(12));
        Assert.That(Offset<MptcpInfo>(nameof(MptcpInfo.WriteSeq)), Is.EqualTo(16));
        Assert.That(Offset<MptcpInfo>(nameof(MptcpInfo.LocalAddrUsed)), Is.EqualTo(40));
        Assert.That(Offset<MptcpInfo>(nameof(MptcpInfo.Retransmits)), Is.EqualTo(44), "after the 8-bit hole");
        Assert.That(Offset<MptcpInfo>(nameof(MptcpInfo.BytesSent)), Is.EqualTo(56));
        Assert.That(Offset<MptcpInfo>(nameof(MptcpInfo.BytesReceived)), Is.EqualTo(64));
    }

    [Test]
    public void TcpInfo_FieldOffsetsMatchUapi()
    {
        Assert.That(Marshal.SizeOf<TcpInfo>(), Is.EqualTo(248));
        Assert.That(Offset<TcpInfo>(nameof(TcpInfo.State)), Is.EqualTo(0));
        Assert.That(Offset<TcpInfo>(nameof(TcpInfo.RttMicroseconds)), Is.EqualTo(68));
        Assert.That(Offset<TcpInfo>(nameof(TcpInfo.BytesAcked)), Is.EqualTo(120));
        Assert.That(Offset<TcpInfo>(nameof(TcpInfo.BytesReceived)), Is.EqualTo(128));
        Assert.That(Offset<TcpInfo>(nameof(TcpInfo.BytesSent)), Is.EqualTo(200));
        Assert.That(Offset<TcpInfo>(nameof(TcpInfo.BytesRetrans)), Is.EqualTo(208));
    }

    [Test]
    public void SubflowAddrs_IsTwoSockaddrStorages()
    {
        Assert.That(Marshal.SizeOf<MptcpSubflowAddrs>(), Is.EqualTo(256));
        Assert.That(Offset<MptcpSubflowAddrs>(nameof(MptcpSubflowAddrs.RemoteFamily)), Is.EqualTo(128));
    }

    [Test]
    public void Constants_MatchUapi()
    {
        Assert.That(MptcpConstants.IPPROTO_MPTCP, Is.EqualTo(262));
        Assert.That(MptcpConstants.SOL_MPTCP, Is.EqualTo(284));
        Assert.That((MptcpConstants.MPTCP_INFO, MptcpConstants.MPTCP_TCPINFO, MptcpConstants.MPTCP_SUBFLOW_ADDRS), Is.EqualTo((1, 2, 3)));
    }

    [Test]
    public void ParseSockaddr_In4AndIn6_PortInNetworkOrder()
    {
        byte[] v4 = new byte[128];
        v4[0] = 2; // AF_INET, host order (little-endian hosts)
        v4[2] = 0x11; v4[3] = 0x5c; // 4444
        v4[4] = 198; v4[5] = 18; v4[6] = 2; v4[7] = 1;
        Assert.That(MptcpSocketOptions.ParseSockaddr(v4), Is.EqualTo(new IPEndPoint(IPAddress.Parse("198.18.2.1"), 4444)));

        byte[] v6 = new byte[128];
        v6[0] = 10; // AF_INET6
        v6[2] = 0x10; v6[3] = 0xe1; // 4321
        IPAddress.IPv6Loopback.GetAddressBytes().CopyTo(v6, 8);
        Assert.That(MptcpSocketOptions.ParseSockaddr(v6), Is.EqualTo(new IPEndPoint(IPAddress.IPv6Loopback, 4321)));
    }

    [Test]
    public void MsgHdrAndIoVec_MatchGlibcOn64BitLinux()
    {
        // struct iovec { void *iov_base; size_t iov_len; }; struct msghdr: name, namelen (+4 padding), iov, iovlen,
        // control, controllen, flags (+4 padding), as glibc declares them on x86_64 and arm64.
        Assert.That(Marshal.SizeOf<LinuxNative.IoVec>(), Is.EqualTo(16));
        Assert.That(Offset<LinuxNative.IoVec>(nameof(LinuxNative.IoVec.Length)), Is.EqualTo(8));
        Assert.That(Marshal.SizeOf<LinuxNative.MsgHdr>(), Is.EqualTo(56));
        Assert.That(Offset<LinuxNative.MsgHdr>(nameof(LinuxNative.MsgHdr.NameLength)), Is.EqualTo(8));
        Assert.That(Offset<LinuxNative.MsgHdr>(nameof(LinuxNative.MsgHdr.Iov)), Is.EqualTo(16));
        Assert.That(Offset<LinuxNative.MsgHdr>(nameof(LinuxNative.MsgHdr.IovLength)), Is.EqualTo(24));
        Assert.That(Offset<LinuxNative.MsgHdr>(nameof(LinuxNative.MsgHdr.Control)), Is.EqualTo(32));
        Assert.That(Offset<LinuxNative.MsgHdr>(nameof(LinuxNative.MsgHdr.ControlLength)), Is.EqualTo(40));
        Assert.That(Offset<LinuxNative.MsgHdr>(nameof(LinuxNative.MsgHdr.Flags)), Is.EqualTo(48));
    }

    private static int Offset<T>(string field) => (int)Marshal.OffsetOf<T>(field);
}
