using System.Net;
using System.Net.Sockets;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.IntegrationTests.Multipath;

/// <summary>NetNs.Run switches only the calling thread, only for the call, and the socket stays where it was made.</summary>
[TestFixture]
[NonParallelizable]
public sealed class NetNsTests : TestbedFixture
{
    protected override string Tag => "mpn";
    protected override int Paths => 1;

    [Test]
    public void CreateSocket_InTargetNamespace_CanBindItsAddressAndThreadReturns()
    {
        Assert.That(NetNs.Exists(Bed.TargetNamespace), Is.True);
        using var inside = NetNs.CreateSocket(Bed.TargetNamespace, AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Assert.That(() => inside.Bind(new IPEndPoint(Testbed.TargetAddress(1), 0)), Throws.Nothing,
            "198.18.1.2 exists only in the target namespace");

        using var here = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Assert.That(() => here.Bind(new IPEndPoint(Testbed.TargetAddress(1), 0)),
            Throws.InstanceOf<SocketException>().With.Property(nameof(SocketException.SocketErrorCode)).EqualTo(SocketError.AddressNotAvailable),
            "the calling thread is back in its own namespace");
    }
}
