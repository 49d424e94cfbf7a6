using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.IntegrationTests.Multipath;

/// <summary>Two unshaped paths between an initiator and a target namespace.</summary>
[TestFixture]
[NonParallelizable]
public sealed class MultipathTestbedTests : TestbedFixture
{
    protected override string Tag => "mpt";

    [Test]
    public async Task TwoPaths_64MiBTransfer_EachSubflowCarriesBytes()
    {
        await using var link = await TransferKit.ConnectAsync(Bed, MultipathPolicy.Required, MultipathPolicy.Required);
        var (client, server) = (link.Client, link.Server);
        Assert.That(client.TransportName, Is.EqualTo("mptcp"));
        await TransferKit.WaitForSubflowsAsync(client, 2);

        var send = TransferKit.SendAsync(client.Output, 64L << 20, seed: 21);
        var receive = TransferKit.ReceiveAsync(server.Input);
        await Task.WhenAll(send, receive).WaitAsync(TransferKit.HangLimit);

        var status = client.GetMultipathStatus();
        TestContext.Out.WriteLine("initiator " + status.Describe());
        TestContext.Out.WriteLine("target    " + server.GetMultipathStatus().Describe());
        Assert.That(receive.Result, Is.EqualTo(send.Result).Using<(long, byte[])>((a, b) => a.Item1 == b.Item1 && a.Item2.AsSpan().SequenceEqual(b.Item2)));
        Assert.That(status.Mode, Is.EqualTo(TransportMode.Mptcp));
        Assert.That(status.Subflows, Has.Count.EqualTo(2), status.Describe());
        var path1 = TransferKit.OnPath(status, 1);
        var path2 = TransferKit.OnPath(status, 2);
        Assert.That(path1, Is.Not.Null, status.Describe());
        Assert.That(path2, Is.Not.Null, status.Describe());
        Assert.That(path1!.BytesSent, Is.GreaterThan(1UL << 20), "path 1 carried data");
        Assert.That(path2!.BytesSent, Is.GreaterThan(1UL << 20), "path 2 carried data");
    }

    [Test]
    public async Task TargetMptcpOff_Preferred_RunsOnTcpAndReportsFallback()
    {
        Bed.MptcpOff("target");
        await using var link = await TransferKit.ConnectAsync(Bed, MultipathPolicy.Preferred, MultipathPolicy.Preferred);
        var (client, server) = (link.Client, link.Server);

        var status = client.GetMultipathStatus();
        Assert.That(client.TransportName, Is.EqualTo("tcp (mptcp fallback)"));
        Assert.That(status.Mode, Is.EqualTo(TransportMode.MptcpFallback));
        Assert.That(status.FallbackReason, Does.Contain("did not negotiate MPTCP"));
        Assert.That(server.GetMultipathStatus().FallbackReason, Does.Contain("net.mptcp.enabled=0"));

        var send = TransferKit.SendAsync(client.Output, 8L << 20, seed: 22);
        var receive = TransferKit.ReceiveAsync(server.Input);
        await Task.WhenAll(send, receive).WaitAsync(TransferKit.HangLimit);
        Assert.That(receive.Result.Length, Is.EqualTo(send.Result.Length));
        Assert.That(receive.Result.Hash, Is.EqualTo(send.Result.Hash));
    }

    [Test]
    public void TargetMptcpOff_RequiredClient_RefusedWithClearMessage()
    {
        Bed.MptcpOff("target");
        var ex = Assert.ThrowsAsync<MultipathUnavailableException>(
            () => TransferKit.ConnectAsync(Bed, MultipathPolicy.Required, MultipathPolicy.Preferred));
        Assert.That(ex!.Message, Does.StartWith("multipath: required, but peer").And.Contain("fell back to plain TCP"));
    }

    [Test]
    public void TargetMptcpOff_RequiredListener_RefusedNamingTheSysctl()
    {
        Bed.MptcpOff("target");
        var ex = Assert.Throws<MultipathUnavailableException>(() => StreamListener.Bind(
            new System.Net.IPEndPoint(Testbed.TargetAddress(1), 0), MultipathPolicy.Required, networkNamespace: Bed.TargetNamespace));
        Assert.That(ex!.Message, Does.Contain("net.mptcp.enabled=0").And.Contain(Bed.TargetNamespace));
    }

    [Test]
    public async Task RequiredListener_TcpOnlyInitiator_ConnectionResetAndCounted()
    {
        await using var listener = StreamListener.Bind(new System.Net.IPEndPoint(Testbed.TargetAddress(1), 0),
            MultipathPolicy.Required, networkNamespace: Bed.TargetNamespace);
        using var cts = new CancellationTokenSource();
        var accept = listener.AcceptAsync(cts.Token).AsTask();
        var remote = new System.Net.IPEndPoint(Testbed.TargetAddress(1), listener.LocalEndPoint.Port);

        // The reset may beat connect(2)'s completion or arrive on the first read: both are a reset.
        Assert.That(async () =>
        {
            await using var client = await StreamConnector.ConnectAsync(remote, MultipathPolicy.Disabled,
                networkNamespace: Bed.InitiatorNamespace);
            await TransferKit.ReceiveAsync(client.Input).WaitAsync(TransferKit.HangLimit);
        }, Throws.InstanceOf<ConnectionResetException>());
        Assert.That(listener.RefusedFallbacks, Is.EqualTo(1));
        Assert.That(accept.IsCompleted, Is.False, "the refused connection is not handed to the application");
        await cts.CancelAsync();
    }

    [Test]
    public void PathManagerState_Testbed_EndpointsAndWarnings()
    {
        var initiator = PathManagerState.Read(Bed.InitiatorNamespace);
        TestContext.Out.WriteLine($"initiator: {initiator}");
        Assert.That(initiator.Enabled, Is.True);
        Assert.That(initiator.SubflowsLimit, Is.EqualTo(1));
        Assert.That(initiator.Endpoints, Has.Count.EqualTo(1));
        Assert.That(initiator.Endpoints[0].Flags, Is.EqualTo(MptcpEndpointFlags.Subflow));
        Assert.That(initiator.Endpoints[0].Address, Is.EqualTo(Testbed.InitiatorAddress(2)));
        Assert.That(initiator.WarningsFor(2), Is.Empty);
        Assert.That(initiator.WarningsFor(3), Has.Some.Contains("subflow limit is 1"));

        Bed.MptcpOff("initiator");
        var off = PathManagerState.Read(Bed.InitiatorNamespace);
        Assert.That(off.WarningsFor(2), Has.Some.Contains("net.mptcp.enabled=0"));
    }
}
