using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NvmeMptls.Target.Server;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.IntegrationTests.Limits;

/// <summary>
/// Connection limits (Target:Limits): the total and per-address caps close a connection at accept, before ICReq; the
/// per-host caps answer Connect with Connect Controller Busy (no DNR: the host may retry later); SQSIZE and QID beyond
/// the queue limits get Connect Invalid Parameters pointing at the field. Each is counted, and each frees up again.
/// </summary>
public sealed class ConnectionLimitTests
{
    private const string OtherHost = "nqn.2014-08.org.nvmexpress:uuid:99999999-2222-3333-4444-555555555555";

    [Test]
    public async Task MaxConnections_TheNextConnectionIsClosedBeforeICResp_AndAcceptedOnceOneCloses()
    {
        await using var target = LoopbackTarget.Start(namespaceBytes: 1 << 20, limits: new TargetLimits { MaxConnections = 3, IcReqTimeout = TimeSpan.FromSeconds(120) });
        var held = new List<Socket>();
        for (var i = 0; i < 3; i++)
        {
            held.Add(await LimitsTestKit.ConnectAsync(target));
        }

        await WaitAsync(() => target.Server.OpenConnections == 3);
        Assert.That(await AnsweredAsync(() => LimitsTestKit.ConnectAsync(target)), Is.False, "a fourth connection was answered");

        Assert.That(target.Server.Registry.Counters.LimitsReached[(int)LimitKind.Connections], Is.EqualTo(1));
        held[0].Dispose();
        await WaitAsync(() => target.Server.OpenConnections == 2);
        Assert.That(await AnsweredAsync(() => LimitsTestKit.ConnectAsync(target)), Is.True, "a connection below the cap was refused");

        foreach (var s in held)
        {
            s.Dispose();
        }
    }

    [Test]
    public async Task MaxConnectionsPerAddress_RefusesTheThirdFromOneAddress_NotFromAnother()
    {
        await using var target = LoopbackTarget.Start(namespaceBytes: 1 << 20, limits: new TargetLimits { MaxConnectionsPerAddress = 2, IcReqTimeout = TimeSpan.FromSeconds(120) });
        using var a1 = await ConnectFromAsync(target, IPAddress.Loopback);
        using var a2 = await ConnectFromAsync(target, IPAddress.Loopback);
        await WaitAsync(() => target.Server.OpenConnections == 2);
        Assert.That(await AnsweredAsync(() => ConnectFromAsync(target, IPAddress.Loopback)), Is.False, "a third connection from 127.0.0.1 was answered");
        Assert.That(await AnsweredAsync(() => ConnectFromAsync(target, IPAddress.Parse("127.0.0.2"))), Is.True, "a connection from another address was refused");

        Assert.That(target.Server.Registry.Counters.LimitsReached[(int)LimitKind.ConnectionsPerAddress], Is.EqualTo(1));
        Assert.That(await IcRespAsync(a1), Is.True, "the connections within the cap are served");
    }

    [Test]
    public async Task MaxConnectionsPerHost_ConnectGetsControllerBusyWithoutDnr_OtherHostsAndLaterRetriesSucceed()
    {
        await using var target = LoopbackTarget.Start(namespaceBytes: 1 << 20, limits: new TargetLimits { MaxConnectionsPerHost = 3 });
        await using var admin = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 0);
        var io1 = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 1, admin.ControllerId);
        await using var io2 = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 2, admin.ControllerId);

        await using (var io3 = await OpenRawAsync(target))
        {
            var refused = await io3.ConnectAsync(LoopbackTarget.SubsystemNqn, 3, 31, admin.ControllerId);
            Assert.That(refused.Status.Is(NvmeStatusCodes.ConnectControllerBusy), Is.True, refused.Status.ToString());
            Assert.That(refused.Status.DoNotRetry, Is.False, "a per-host cap clears when the host's queues end: no DNR");
        }

        await using (var other = await OpenRawAsync(target))
        {
            var ok = await other.ConnectAsync(LoopbackTarget.SubsystemNqn, 0, 31, hostNqn: OtherHost);
            Assert.That(ok.Status.IsSuccess, Is.True, "another host is not held by this host's cap: " + ok.Status);
        }

        Assert.That(target.Server.Registry.Counters.LimitsReached[(int)LimitKind.ConnectionsPerHost], Is.EqualTo(1));
        await io1.DisposeAsync();
        await WaitAsync(() => target.Server.Registry.HostQueues(RawNvmeHost.HostNqn) == 2);
        await using var retry = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 1, admin.ControllerId);
    }

    [Test]
    public async Task MaxControllersPerHost_AdminConnectGetsControllerBusy_UntilOneControllerCloses()
    {
        await using var target = LoopbackTarget.Start(namespaceBytes: 1 << 20, limits: new TargetLimits { MaxControllersPerHost = 2 });
        var first = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 0);
        await using var second = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 0);
        await using (var third = await OpenRawAsync(target))
        {
            var refused = await third.ConnectAsync(LoopbackTarget.SubsystemNqn, 0, 31);
            Assert.That(refused.Status.Is(NvmeStatusCodes.ConnectControllerBusy), Is.True, refused.Status.ToString());
            Assert.That(refused.Status.DoNotRetry, Is.False);
        }

        Assert.That(target.Server.Registry.Counters.LimitsReached[(int)LimitKind.ControllersPerHost], Is.EqualTo(1));
        await first.DisposeAsync();
        await WaitAsync(() => target.Server.Registry.ControllersOf(RawNvmeHost.HostNqn) == 1);
        await using var again = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 0);
    }

    /// <summary>A gateway's controller-id range (Target:Gateway:Members position): ids stay inside it; when all are live, Controller Busy.</summary>
    [Test]
    public async Task ControllerIdRange_IdsStayInside_AndAFullRangeGetsControllerBusy()
    {
        await using var target = LoopbackTarget.Start(namespaceBytes: 1 << 20, limits: new TargetLimits { ControllerIdMin = 4097, ControllerIdMax = 4098 });
        await using var first = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 0);
        await using var second = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 0);
        Assert.That(new[] { first.ControllerId, second.ControllerId }, Is.EquivalentTo(new ushort[] { 4097, 4098 }));
        await using var third = await OpenRawAsync(target);
        var refused = await third.ConnectAsync(LoopbackTarget.SubsystemNqn, 0, 31);
        Assert.That(refused.Status.Is(NvmeStatusCodes.ConnectControllerBusy), Is.True, refused.Status.ToString());
        Assert.That(refused.Status.DoNotRetry, Is.False);
    }

    [Test]
    public async Task QueueLimits_SqSizeAndQidBeyondThem_GetInvalidParametersAtTheirOffsets()
    {
        await using var target = LoopbackTarget.Start(namespaceBytes: 1 << 20, limits: new TargetLimits { MaxIoQueues = 2, MaxQueueSize = 64 });
        await using var admin = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 0);
        await using (var big = await OpenRawAsync(target))
        {
            var r = await big.ConnectAsync(LoopbackTarget.SubsystemNqn, 1, 64, admin.ControllerId);
            Assert.That(r.Status.Is(NvmeStatusCodes.ConnectInvalidParameters) && r.Status.DoNotRetry, Is.True, r.Status.ToString());
            Assert.That(r.Dw0, Is.EqualTo(ConnectResponse.InvalidSqSize), "IATTR 0, IPO 44 (SQSIZE)");
        }

        await using (var q3 = await OpenRawAsync(target))
        {
            var r = await q3.ConnectAsync(LoopbackTarget.SubsystemNqn, 3, 31, admin.ControllerId);
            Assert.That(r.Status.Is(NvmeStatusCodes.ConnectInvalidParameters), Is.True, r.Status.ToString());
            Assert.That(r.Dw0, Is.EqualTo(ConnectResponse.InvalidQueueId), "IATTR 0, IPO 42 (QID)");
        }

        Assert.That(target.Server.Registry.Counters.LimitsReached[(int)LimitKind.QueueParameters], Is.EqualTo(2));
        await using var q2 = await RawNvmeHost.OpenAsync(target.EndPoint, LoopbackTarget.SubsystemNqn, 2, admin.ControllerId);
    }

    private static async Task<RawNvmeHost> OpenRawAsync(LoopbackTarget target)
    {
        var host = new RawNvmeHost(await StreamConnector.ConnectAsync(target.EndPoint, MultipathPolicy.Disabled));
        await host.InitializeAsync();
        return host;
    }

    private static async Task<Socket> ConnectFromAsync(LoopbackTarget target, IPAddress source)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Bind(new IPEndPoint(source, 0));
        await socket.ConnectAsync(target.EndPoint);
        return socket;
    }

    /// <summary>Connects and sends an ICReq: true for an ICResp, false when the target reset or closed the connection (which may fail the connect itself).</summary>
    private static async Task<bool> AnsweredAsync(Func<Task<Socket>> connect)
    {
        Socket socket;
        try
        {
            socket = await connect();
        }
        catch (SocketException)
        {
            return false;
        }

        using (socket)
        {
            return await IcRespAsync(socket);
        }
    }

    /// <summary>Sends an ICReq and reads the answer: true for an ICResp, false when the target closed or reset instead.</summary>
    private static async Task<bool> IcRespAsync(Socket socket)
    {
        var icreq = new byte[IcReqPdu.HeaderLength];
        icreq[0] = (byte)PduType.ICReq;
        icreq[2] = IcReqPdu.HeaderLength;
        icreq[4] = IcReqPdu.HeaderLength;
        try
        {
            await socket.SendAsync(icreq);
            var answer = new byte[IcReqPdu.HeaderLength];
            var got = 0;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            while (got < answer.Length)
            {
                var n = await socket.ReceiveAsync(answer.AsMemory(got), timeout.Token);
                if (n == 0)
                {
                    return false;
                }

                got += n;
            }

            return answer[0] == (byte)PduType.ICResp;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static async Task WaitAsync(Func<bool> condition)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), "condition not met in time");
            await Task.Delay(50);
        }
    }
}
