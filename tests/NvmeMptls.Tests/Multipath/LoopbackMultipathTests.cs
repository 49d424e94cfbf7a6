using System.Net;
using NvmeMptls.Tests.Conformance;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.Tests.Multipath;

/// <summary>Mode detection, subflow listing and policy enforcement over 127.0.0.1.</summary>
public sealed class LoopbackMultipathTests
{
    private static async Task<(SocketConnection Client, SocketConnection Server)> PairAsync(MultipathPolicy client, MultipathPolicy server)
    {
        await using var listener = StreamListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), server, backlog: 4);
        var accept = listener.AcceptAsync().AsTask();
        var c = await StreamConnector.ConnectAsync(listener.LocalEndPoint, client);
        return (c, await accept.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    private static void RequireMptcpKernel()
    {
        if (!OperatingSystem.IsLinux() || File.ReadAllText("/proc/sys/net/mptcp/enabled").Trim() != "1")
            Assert.Ignore("needs Linux with net.mptcp.enabled=1");
    }

    [Test]
    public async Task MptcpBothEnds_StatusListsOneEstablishedSubflowWithTheEndpoints()
    {
        RequireMptcpKernel();
        var (client, server) = await PairAsync(MultipathPolicy.Required, MultipathPolicy.Required);
        await using var c = client;
        await using var s = server;
        await client.Output.WriteAsync(new byte[100_000]);
        var read = await server.Input.ReadAtLeastAsync(100_000);
        server.Input.AdvanceTo(read.Buffer.End);

        var status = client.GetMultipathStatus();
        TestContext.Out.WriteLine(status.Describe());
        Assert.That(status.Mode, Is.EqualTo(TransportMode.Mptcp));
        Assert.That(status.Subflows, Has.Count.EqualTo(1));
        var sf = status.Subflows[0];
        Assert.That(sf.Local, Is.EqualTo(client.LocalEndPoint));
        Assert.That(sf.Remote, Is.EqualTo(client.RemoteEndPoint));
        Assert.That(sf.State, Is.EqualTo("established"));
        Assert.That(sf.BytesSent, Is.GreaterThanOrEqualTo(100_000UL));
        Assert.That(server.GetMultipathStatus().Subflows[0].BytesReceived, Is.GreaterThanOrEqualTo(100_000UL));
        // The server has read every byte, so the last ACK is at most one delayed-ACK interval away.
        var acked = sf.BytesAcked;
        for (var i = 0; i < 50 && acked < 100_000UL; i++)
        {
            await Task.Delay(20);
            acked = client.GetMultipathStatus().Subflows[0].BytesAcked;
        }
        // tcpi_bytes_acked counts the acknowledged SYN as one byte; tcpi_bytes_sent counts only data.
        Assert.That(acked, Is.InRange(100_000UL, client.GetMultipathStatus().Subflows[0].BytesSent + 1), "tcpi_bytes_acked read at its offset");
        Assert.That(client.UnderlyingSocket, Is.Not.Null);
        Assert.That(SocketFactory.IsMptcpSocket(client.UnderlyingSocket), Is.True);
    }

    [Test]
    public async Task PreferredClient_TcpOnlyServer_FallsBackAndSaysWhy()
    {
        RequireMptcpKernel();
        var (client, server) = await PairAsync(MultipathPolicy.Preferred, MultipathPolicy.Disabled);
        await using var c = client;
        await using var s = server;
        var status = client.GetMultipathStatus();
        Assert.That(client.TransportName, Is.EqualTo("tcp (mptcp fallback)"));
        Assert.That(status.Mode, Is.EqualTo(TransportMode.MptcpFallback));
        Assert.That(status.FallbackReason, Does.Contain("did not negotiate MPTCP"));
        Assert.That(status.Subflows, Is.Empty);
        Assert.That(server.GetMultipathStatus().Mode, Is.EqualTo(TransportMode.Tcp));
        Assert.That(server.TransportName, Is.EqualTo("tcp"));
    }

    [Test]
    public async Task PreferredServer_TcpOnlyClient_ServerSideReportsFallback()
    {
        RequireMptcpKernel();
        var (client, server) = await PairAsync(MultipathPolicy.Disabled, MultipathPolicy.Preferred);
        await using var c = client;
        await using var s = server;
        Assert.That(server.TransportName, Is.EqualTo("tcp (mptcp fallback)"));
        Assert.That(server.GetMultipathStatus().FallbackReason, Does.Contain("did not negotiate MPTCP"));
        Assert.That(SocketFactory.IsMptcpSocket(server.UnderlyingSocket), Is.False, "the kernel hands over a plain TCP socket");
    }

    [Test]
    public async Task RequiredClient_TcpOnlyServer_RefusedWithMessage()
    {
        RequireMptcpKernel();
        await using var listener = StreamListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), MultipathPolicy.Disabled, backlog: 4);
        var ex = Assert.ThrowsAsync<MultipathUnavailableException>(
            () => StreamConnector.ConnectAsync(listener.LocalEndPoint, MultipathPolicy.Required));
        Assert.That(ex!.Message, Is.EqualTo($"multipath: required, but peer {listener.LocalEndPoint} did not negotiate MPTCP (no MP_CAPABLE), the connection fell back to plain TCP"));
    }

    [Test]
    public async Task Connect_NothingListening_FailsFastWithSocketError()
    {
        // Bind then close to get a port that refuses.
        int port;
        await using (var l = StreamListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), MultipathPolicy.Disabled))
            port = l.LocalEndPoint.Port;
        Assert.That(() => StreamConnector.ConnectAsync("127.0.0.1", port, MultipathPolicy.Disabled),
            Throws.InstanceOf<System.Net.Sockets.SocketException>().With.Property("SocketErrorCode").EqualTo(System.Net.Sockets.SocketError.ConnectionRefused));
    }

    [Test]
    public void SocketErrors_Classify_ResetTimeoutClosed()
    {
        Assert.That(SocketErrors.Classify(System.Net.Sockets.SocketError.ConnectionReset), Is.EqualTo(ConnectionErrorKind.Reset));
        Assert.That(SocketErrors.Classify(System.Net.Sockets.SocketError.TimedOut), Is.EqualTo(ConnectionErrorKind.Timeout));
        Assert.That(SocketErrors.Classify(System.Net.Sockets.SocketError.OperationAborted), Is.EqualTo(ConnectionErrorKind.Closed));
        Assert.That(SocketErrors.ToPipeException(new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionReset), "receive"),
            Is.InstanceOf<ConnectionResetException>());
        Assert.That(SocketErrors.ToPipeException(new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.TimedOut), "send").InnerException,
            Is.InstanceOf<TimeoutException>());
    }

    [Test]
    public void Options_BadThresholds_NameTheKey()
        => Assert.That(() => new SocketConnectionOptions { InputPauseThreshold = 10, InputResumeThreshold = 20 }.Validate(),
            Throws.ArgumentException.With.Message.Contains(nameof(SocketConnectionOptions.InputResumeThreshold)));

    [Test]
    public void NetNs_BadName_Rejected()
        => Assert.That(() => NetNs.Run("../etc", () => 0), Throws.ArgumentException);

    [Test]
    public void NetNs_MissingNamespace_ClearError()
    {
        if (!OperatingSystem.IsLinux())
            Assert.Ignore("network namespaces exist only on Linux");
        Assert.That(NetNs.Exists("nvmemptls-no-such-ns"), Is.False);
        Assert.That(() => NetNs.Run("nvmemptls-no-such-ns", () => 0), Throws.InstanceOf<IOException>().With.Message.Contains("/var/run/netns/nvmemptls-no-such-ns"));
    }

    [Test]
    public void NetNs_NullName_RunsHere()
        => Assert.That(NetNs.Run(null, () => 42), Is.EqualTo(42));
}
