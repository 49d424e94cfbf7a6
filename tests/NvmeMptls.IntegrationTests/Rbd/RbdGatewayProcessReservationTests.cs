using System.Diagnostics;
using System.Net;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.IntegrationTests.Rbd;

/// <summary>
/// The same image served by two real target processes (`nvme-mptls-target --rbd-ns`, each its own librados client and
/// ports): a reservation taken through one is enforced by the other when the acquire completes, a Preempt and Abort
/// through the other takes it over, both processes are killed (SIGKILL) and started again, and the state is still
/// there and enforced by both. A change made outside the gateways (a missed notify) is picked up by the version check.
/// </summary>
[NonParallelizable]
public sealed class RbdGatewayProcessReservationTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:resvgw";
    private static readonly Guid HostA = Guid.Parse("aaaaaaaa-5141-4000-8000-00000000000a");
    private static readonly Guid HostB = Guid.Parse("bbbbbbbb-5141-4000-8000-00000000000b");
    private static readonly NvmeStatus Conflict = NvmeStatus.Make(0, 0x83, dnr: true);

    private static Task<TargetRunner> StartGatewayAsync(CephMiniCluster cluster, string image) =>
        TargetRunner.StartAsync("--nqn", Nqn, "--rbd-ns", $"rbd/{image}", "--ceph-conf", cluster.CephConf);

    private static async Task<Queues> IoQueueAsync(TargetRunner gateway, Guid hostId)
    {
        var endPoint = new IPEndPoint(IPAddress.Loopback, gateway.Port);
        var nqn = $"nqn.2014-08.org.nvmexpress:uuid:{hostId}";
        var admin = await RawNvmeHost.OpenAsync(endPoint, Nqn, 0, hostId: hostId, hostNqn: nqn);
        Assert.That((await admin.SetFeatureAsync(FeatureIds.NumberOfQueues, 0)).Status.IsSuccess, Is.True);
        return new Queues(admin, await RawNvmeHost.OpenAsync(endPoint, Nqn, 1, admin.ControllerId, hostId: hostId, hostNqn: nqn));
    }

    /// <summary>A host's admin queue (its controller) and I/O queue on one gateway.</summary>
    private sealed record Queues(RawNvmeHost Admin, RawNvmeHost Io) : IAsyncDisposable
    {
        public Task<HostCompletion> ReadAsync(uint nsid, ulong slba, int length) => Io.ReadAsync(nsid, slba, length);

        public Task<HostCompletion> WriteAsync(uint nsid, ulong slba, ReadOnlyMemory<byte> data) => Io.WriteAsync(nsid, slba, data);

        public async ValueTask DisposeAsync()
        {
            await Io.DisposeAsync();
            await Admin.DisposeAsync();
        }
    }

    private static async Task<NvmeStatus> SendAsync(Queues host, byte opcode, ReservationCommand fields, ulong key, ulong other = 0)
    {
        var data = new byte[16];
        ReservationCommand.WriteKeys(data, key, other);
        var io = host.Io;
        return (await io.ExecuteAsync(io.Command(opcode, 1, cdw10: fields.ToCdw10(), length: 16), data, null)).Status;
    }

    private static async Task<ReservationReport> ReportAsync(Queues host)
    {
        var io = host.Io;
        var buffer = new byte[4096];
        var r = await io.ExecuteAsync(io.Command(IoOpcodes.ReservationReport, 1, cdw10: 1023, cdw11: 1, length: 4096), default, buffer);
        Assert.That(r.Status.IsSuccess, Is.True, r.Status.ToString());
        return ReservationReport.Read(buffer);
    }

    [Test]
    public async Task TwoGatewayProcesses_ConflictAtOnce_PreemptAndAbortAcross_KillBothAndRestart_StateKept()
    {
        var cluster = RbdClusterFixture.Require();
        cluster.CreateImage("prproc", "16M");
        var gateways = await Task.WhenAll(StartGatewayAsync(cluster, "prproc"), StartGatewayAsync(cluster, "prproc"));
        try
        {
            await using (var a = await IoQueueAsync(gateways[0], HostA))
            await using (var b = await IoQueueAsync(gateways[1], HostB))
            {
                var register = new ReservationCommand(ReservationCommand.RegisterAction, false, ReservationType.None, ReservationCommand.PtplSet);
                Assert.That(await SendAsync(a, IoOpcodes.ReservationRegister, register, 0, 0xA), Is.EqualTo(NvmeStatus.Success));
                Assert.That(await SendAsync(b, IoOpcodes.ReservationRegister, register, 0, 0xB), Is.EqualTo(NvmeStatus.Success));
                Assert.That((await b.ReadAsync(1, 0, 512)).Status, Is.EqualTo(NvmeStatus.Success));

                // Exclusive Access taken through process 1: B's read through process 2 conflicts on its next command.
                var watch = Stopwatch.StartNew();
                var acquire = new ReservationCommand(ReservationCommand.AcquireAction, false, ReservationType.ExclusiveAccess, 0);
                Assert.That(await SendAsync(a, IoOpcodes.ReservationAcquire, acquire, 0xA), Is.EqualTo(NvmeStatus.Success));
                var acquired = watch.Elapsed;
                Assert.That((await b.ReadAsync(1, 0, 512)).Status, Is.EqualTo(Conflict), "B's read on process 2 right after A's acquire on process 1");
                TestContext.Progress.WriteLine($"processes: acquire on gateway 1 {acquired.TotalMilliseconds:F1} ms, B's read refused on gateway 2 at {watch.Elapsed.TotalMilliseconds:F1} ms");

                // B takes it over through process 2 with Preempt and Abort: A's write through process 1 conflicts.
                var preempt = new ReservationCommand(ReservationCommand.PreemptAndAbortAction, false, ReservationType.WriteExclusive, 0);
                Assert.That(await SendAsync(b, IoOpcodes.ReservationAcquire, preempt, 0xB, 0xA), Is.EqualTo(NvmeStatus.Success));
                Assert.That((await a.WriteAsync(1, 0, new byte[512])).Status, Is.EqualTo(Conflict), "A's write on process 1 after B's preempt on process 2");
                Assert.That((await b.WriteAsync(1, 0, new byte[512])).Status, Is.EqualTo(NvmeStatus.Success));
            }

            // A change nobody notified (written with the rados tool): both processes pick it up by the version check.
            var stored = cluster.Rados($"-p rbd get {RbdReservationStore.ObjectPrefix}{cluster.ImageId("prproc")} -");
            var version = ulong.Parse(cluster.Rados($"-p rbd getxattr {RbdReservationStore.ObjectPrefix}{cluster.ImageId("prproc")} {RbdReservationStore.VersionXattr}").Trim(), System.Globalization.CultureInfo.InvariantCulture);
            var cleared = stored.Replace($"version {version}\n", $"version {version + 1}\n", StringComparison.Ordinal)
                .Replace("type 1\n", "type 0\n", StringComparison.Ordinal).Replace($"holder {HostB}", $"holder {Guid.Empty}", StringComparison.Ordinal);
            var file = Path.Combine(cluster.Directory, "prproc-state");
            await File.WriteAllTextAsync(file, cleared);
            cluster.Rados($"-p rbd put {RbdReservationStore.ObjectPrefix}{cluster.ImageId("prproc")} {file}");
            cluster.Rados($"-p rbd setxattr {RbdReservationStore.ObjectPrefix}{cluster.ImageId("prproc")} {RbdReservationStore.VersionXattr} {version + 1}");
            var released = Stopwatch.StartNew();
            foreach (var gateway in gateways)
            {
                await using var a = await IoQueueAsync(gateway, HostA);
                while ((await a.WriteAsync(1, 0, new byte[512])).Status != NvmeStatus.Success)
                {
                    Assert.That(released.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), "the version check re-reads the state");
                    await Task.Delay(50);
                }
            }

            TestContext.Progress.WriteLine($"un-notified change enforced by both processes after {released.Elapsed.TotalMilliseconds:F0} ms (version check every second)");

            // Put the reservation back through process 2 (a notified change), then kill both processes.
            await using (var b = await IoQueueAsync(gateways[1], HostB))
            {
                var acquire = new ReservationCommand(ReservationCommand.AcquireAction, false, ReservationType.WriteExclusive, 0);
                Assert.That(await SendAsync(b, IoOpcodes.ReservationAcquire, acquire, 0xB), Is.EqualTo(NvmeStatus.Success));
            }
        }
        finally
        {
            foreach (var g in gateways)
            {
                g.Dispose(); // SIGKILL
            }
        }

        var restarted = await Task.WhenAll(StartGatewayAsync(cluster, "prproc"), StartGatewayAsync(cluster, "prproc"));
        try
        {
            await using var a = await IoQueueAsync(restarted[1], HostA);
            await using var b = await IoQueueAsync(restarted[0], HostB);
            var report = await ReportAsync(a);
            Assert.Multiple(() =>
            {
                Assert.That(report.Type, Is.EqualTo(ReservationType.WriteExclusive));
                Assert.That(report.Registrants.Select(r => (r.HostId, r.Key, r.HoldsReservation)), Is.EqualTo(new[] { (HostB, 0xBUL, true) }));
            });
            Assert.That((await a.WriteAsync(1, 0, new byte[512])).Status, Is.EqualTo(Conflict), "A on restarted process 2");
            Assert.That((await b.WriteAsync(1, 0, new byte[512])).Status, Is.EqualTo(NvmeStatus.Success), "B on restarted process 1");
            Assert.That(restarted[0].Log, Does.Contain("reservations shared with every gateway"), "event 5140");

            // A change right after the restart: the killed processes' watches may still be registered at the OSD, so the
            // notify can wait for them (up to its timeout); the change itself is enforced either way.
            var watch = Stopwatch.StartNew();
            var release = new ReservationCommand(ReservationCommand.ReleaseAction, false, ReservationType.WriteExclusive, 0);
            Assert.That(await SendAsync(b, IoOpcodes.ReservationRelease, release, 0xB), Is.EqualTo(NvmeStatus.Success));
            TestContext.Progress.WriteLine($"release right after killing both gateways: {watch.Elapsed.TotalMilliseconds:F0} ms");
            Assert.That((await a.WriteAsync(1, 0, new byte[512])).Status, Is.EqualTo(NvmeStatus.Success), "A writes on process 2 after B's release on process 1");
        }
        finally
        {
            foreach (var g in restarted)
            {
                TestContext.Progress.WriteLine(string.Join('\n', g.ProblemLines()));
                g.Dispose();
            }
        }
    }
}
