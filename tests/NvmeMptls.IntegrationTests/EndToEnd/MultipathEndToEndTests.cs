using NvmeMptls.Initiator;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.IntegrationTests.EndToEnd;

/// <summary>
/// NVMe/TCP over MPTCP between the initiator namespace and the in-process target in the target namespace of a
/// two-path, unshaped test bed: subflows per I/O queue, failover under a verified workload, TCP fallback.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class MultipathEndToEndTests : TestbedFixture
{
    protected override string Tag => "e2em";

    [Test]
    public async Task TwoPaths_EachIoQueueHasTwoSubflowsAndBothCarryNvmeData()
    {
        await using var target = EndToEndKit.StartTarget(Bed);
        await using var controller = await NvmeController.ConnectAsync(EndToEndKit.Options(Bed, target, NvmeMultipathPolicy.Preferred));
        await EndToEndKit.WaitForSubflowsAsync(controller, 2);
        var ns = await controller.OpenNamespaceAsync(1);

        var write = await EndToEndKit.BenchAsync(ns, "--name=fill", "--rw=write", "--bs=128k", "--iodepth=16", "--size=64m", "--verify=crc32c");
        var read = await EndToEndKit.BenchAsync(ns, "--name=check", "--rw=read", "--bs=128k", "--iodepth=16", "--size=64m", "--verify=crc32c");
        EndToEndKit.Print("write: " + EndToEndKit.Summary(write));
        EndToEndKit.Print("read:  " + EndToEndKit.Summary(read));
        EndToEndKit.Print(EndToEndKit.Listing(controller));

        Assert.That(write.TotalErrors, Is.Zero, write.ToText());
        EndToEndKit.AssertClean(read);
        Assert.That(read.Jobs[0].VerifiedBlocks, Is.EqualTo(512), "every 128 KiB block written was read back and verified");
        var io = EndToEndKit.IoPaths(controller);
        Assert.That(io, Has.Count.EqualTo(2));
        foreach (var path in io)
        {
            Assert.That(path.Transport, Is.EqualTo("mptcp"));
            var status = path.Multipath!;
            Assert.That(status.Mode, Is.EqualTo(QueueTransportMode.Mptcp));
            Assert.That(status.Subflows, Has.Count.EqualTo(2), string.Join("; ", status.Subflows));
            for (var k = 1; k <= 2; k++)
            {
                var subflow = EndToEndKit.OnPath(status, k);
                Assert.That(subflow, Is.Not.Null, $"queue {path.QueueId} has a subflow on path {k}: {string.Join("; ", status.Subflows)}");
                Assert.That(subflow!.BytesSent, Is.GreaterThan(1UL << 20), $"queue {path.QueueId} path {k} sent NVMe write data");
                Assert.That(subflow.BytesReceived, Is.GreaterThan(1UL << 20), $"queue {path.QueueId} path {k} received NVMe read data");
            }
        }
    }

    [Test]
    public async Task TwoPaths_CliStatusWithNetns_ListsTwoSubflowsPerIoQueue()
    {
        await using var target = EndToEndKit.StartTarget(Bed);
        using var output = new StringWriter();
        using var error = new StringWriter();
        var args = new[]
        {
            "status", "-a", Testbed.TargetAddress(1).ToString(), "-s", target.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-n", NvmeMptls.TestKit.LoopbackTarget.SubsystemNqn, "-q", EndToEndKit.HostNqnA, "-i", "2", "--netns", Bed.InitiatorNamespace,
        };

        // The path manager adds the second subflow just after the handshake: retry until the listing shows it.
        string text = "";
        for (var attempt = 0; attempt < 10; attempt++)
        {
            output.GetStringBuilder().Clear();
            var code = await Cli.Program.RunAsync(args, output, error, Stream.Null, Stream.Null, CancellationToken.None).WaitAsync(EndToEndKit.HangLimit);
            Assert.That(code, Is.Zero, error.ToString());
            text = output.ToString();
            if (text.Split('\n').Count(l => l.Contains("subflow ", StringComparison.Ordinal)) >= 6)
            {
                break;
            }

            await Task.Delay(300);
        }

        EndToEndKit.Print("nvme-mptls " + string.Join(' ', args) + "\n" + text);
        Assert.That(text, Does.Contain($"subflow {Testbed.InitiatorAddress(2)}:"), "a subflow from the initiator's path-2 address");
        Assert.That(text, Does.Contain("queue 1   mptcp"));
    }

    [TestCase(1)]
    [TestCase(2)]
    public async Task Failover_PathDownFiveSecondsUnderVerifiedRandRw_ZeroErrorsAndSubflowReturns(int path)
    {
        await using var target = EndToEndKit.StartTarget(Bed);
        await using var controller = await NvmeController.ConnectAsync(EndToEndKit.Options(Bed, target, NvmeMultipathPolicy.Required));
        await EndToEndKit.WaitForSubflowsAsync(controller, 2);
        var ns = await controller.OpenNamespaceAsync(1);

        var run = EndToEndKit.BenchAsync(ns, "--name=failover", "--rw=randrw", "--bs=16k", "--iodepth=16", "--size=64m",
            "--time_based", "--runtime=30", "--verify=crc32c");
        await Task.Delay(TimeSpan.FromSeconds(8));
        var other = 3 - path;
        var before = EndToEndKit.SentOnPath(controller, path);
        Bed.PathDown(path);
        // The window starts once the link is down: what the dead path had acknowledged up to then (at ~1 GB/s, a
        // hundred milliseconds of script time is tens of megabytes) is not counted as carried while down.
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        var ackedBefore = EndToEndKit.AckedOnPath(controller, path);
        var otherAckedBefore = EndToEndKit.AckedOnPath(controller, other);
        await Task.Delay(TimeSpan.FromSeconds(4.5));
        var during = EndToEndKit.Listing(controller);
        var sentWhileDown = EndToEndKit.SentOnPath(controller, path) - before;
        // As signed differences: a subflow replaced meanwhile would restart its counters, and show as a negative figure.
        var ackedWhileDown = (long)EndToEndKit.AckedOnPath(controller, path) - (long)ackedBefore;
        var otherAckedWhileDown = (long)EndToEndKit.AckedOnPath(controller, other) - (long)otherAckedBefore;
        Bed.PathUp(path);
        var atUp = EndToEndKit.AckedOnPath(controller, path);
        var report = await run;
        var afterRun = EndToEndKit.AckedOnPath(controller, path);
        var ackedAfterUp = (long)afterRun - (long)atUp;
        var end = await EndToEndKit.WaitForSubflowsAsync(controller, 2);

        EndToEndKit.Print($"failover, path {path} down for 5 s at t=8 s of a 30 s randrw 16k QD16 crc32c run: " + EndToEndKit.Summary(report));
        EndToEndKit.Print($"path {path}: {before} B sent before; while down {sentWhileDown} B sent, {ackedWhileDown} B acked (from 0.5 s after); {ackedAfterUp} B acked after path-up; " +
            $"path {other} had {otherAckedWhileDown} B acked in the 4.5 s from 0.5 s after path {path} went down");
        EndToEndKit.Print("while down:\n" + during);
        EndToEndKit.Print("at the end:\n" + EndToEndKit.Listing(controller));

        EndToEndKit.AssertClean(report);
        Assert.That(report.Jobs[0].Read.Ios + report.Jobs[0].Write.Ios, Is.GreaterThan(1000), "the workload kept running");
        // Not a throughput figure: how much the surviving path carries while the other is down depends on the machine's
        // load and on how soon the kernel marks the dead subflow stale (8.4 MB in 5 s was seen on a busy CI run, ~1 GB on
        // an idle machine). What must hold is that the I/O moved there and the dead path did not carry it. Acknowledged
        // bytes, not sent bytes: tcpi_bytes_sent counts every transmission attempt, the dead subflow's retransmissions
        // included, and on that CI run it counted more on the dead path than on the live one.
        Assert.That(otherAckedWhileDown, Is.GreaterThan(1L << 20), $"the I/O moved to path {other} while path {path} was down");
        Assert.That(ackedWhileDown, Is.Zero, $"the downed path {path} carried nothing once its link was down");
        Assert.That(end, Has.All.Matches<QueuePath>(p => p.Multipath!.Subflows.Count == 2));
        Assert.That(ackedAfterUp, Is.GreaterThan(0L), $"path {path} carried data again after path-up (acknowledged)");
        Assert.That(controller.State, Is.EqualTo(NvmeControllerState.Live));
    }

    [TestCase("target")]
    [TestCase("initiator")]
    public async Task MptcpOff_Preferred_RunsOnTcpWithFallbackReason(string side)
    {
        Bed.MptcpOff(side);
        await using var target = EndToEndKit.StartTarget(Bed);
        await using var controller = await NvmeController.ConnectAsync(EndToEndKit.Options(Bed, target, NvmeMultipathPolicy.Preferred));
        var ns = await controller.OpenNamespaceAsync(1);
        var report = await EndToEndKit.BenchAsync(ns, "--name=fallback", "--rw=randrw", "--bs=16k", "--iodepth=8", "--size=8m", "--verify=crc32c");
        var listing = EndToEndKit.Listing(controller);
        EndToEndKit.Print($"net.mptcp.enabled=0 on the {side}: " + EndToEndKit.Summary(report) + "\n" + listing);

        EndToEndKit.AssertClean(report);
        foreach (var p in controller.GetQueuePaths())
        {
            Assert.That(p.Multipath!.Mode, Is.AnyOf(QueueTransportMode.MptcpFallback, QueueTransportMode.Tcp), listing);
            Assert.That(p.Multipath.Subflows.Count, Is.LessThanOrEqualTo(1));
            Assert.That(p.Multipath.FallbackReason, Is.Not.Null.And.Not.Empty, "the fallback says why");
            Assert.That(p.Transport, Does.StartWith("tcp"));
        }
    }

    [TestCase("target")]
    [TestCase("initiator")]
    public async Task MptcpOff_Required_RefusedWithClearMessage(string side)
    {
        Bed.MptcpOff(side);
        await using var target = EndToEndKit.StartTarget(Bed);
        var options = EndToEndKit.Options(Bed, target, NvmeMultipathPolicy.Required) with { ControllerLossTimeout = TimeSpan.Zero };
        var ex = Assert.ThrowsAsync(Is.InstanceOf<IOException>(),
            async () => await (await NvmeController.ConnectAsync(options).WaitAsync(EndToEndKit.HangLimit)).DisposeAsync());
        EndToEndKit.Print($"net.mptcp.enabled=0 on the {side}, multipath required: {ex!.GetType().Name}: {ex.Message}");
        Assert.That(ex.Message, Does.Contain("multipath: required"));
        Assert.That(ex.Message, Does.Contain(side == "target" ? "fell back to plain TCP" : "net.mptcp.enabled=0"));
    }
}
