using System.Diagnostics;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.IntegrationTests.Rbd;

/// <summary>
/// Two gateways (two target servers in this process, each with its own librados client, ports and controllers) serve
/// one RBD image; two hosts register, acquire and preempt through different gateways. A change made through one
/// gateway is enforced by the other when the command completes (no waiting for a reload), the notice's AEN reaches the
/// registrant on the other gateway, concurrent changes through both are all kept (compare-and-set on the state
/// object's version), and the state survives a restart of both gateways. `rados getxattr` reads the version as a
/// second path.
/// </summary>
[NonParallelizable]
public sealed class RbdSharedReservationTests
{
    private static readonly Guid HostA = Guid.Parse("aaaaaaaa-5140-4000-8000-00000000000a");
    private static readonly Guid HostB = Guid.Parse("bbbbbbbb-5140-4000-8000-00000000000b");
    private static readonly NvmeStatus Conflict = NvmeStatus.Make(0, 0x83, dnr: true);

    private static LoopbackTarget StartGateway(CephMiniCluster cluster, string image) =>
        LoopbackTarget.Start(16L << 20,
            backing: _ => RbdBlockDevice.Open(new RbdImageLocation("rbd", image, CephConf: cluster.CephConf)),
            reservations: device => new NamespaceReservations(new RbdReservationStore((RbdBlockDevice)device)));

    private static string NqnOf(Guid host) => $"nqn.2014-08.org.nvmexpress:uuid:{host}";

    private static async Task<Host> ConnectAsync(LoopbackTarget gateway, Guid hostId)
    {
        var admin = await RawNvmeHost.OpenAsync(gateway.EndPoint, LoopbackTarget.SubsystemNqn, 0, hostId: hostId, hostNqn: NqnOf(hostId));
        Assert.That((await admin.SetFeatureAsync(FeatureIds.NumberOfQueues, 0)).Status.IsSuccess, Is.True);
        var io = await RawNvmeHost.OpenAsync(gateway.EndPoint, LoopbackTarget.SubsystemNqn, 1, admin.ControllerId, hostId: hostId, hostNqn: NqnOf(hostId));
        return new Host(admin, io);
    }

    [Test]
    public async Task TwoHostsAcrossTwoGateways_ConflictsAtOnceOnBoth_NoticeCrossesGateways_StateSurvivesRestartOfBoth()
    {
        var cluster = RbdClusterFixture.Require();
        cluster.CreateImage("prgw", "16M");
        var gw1 = StartGateway(cluster, "prgw");
        var gw2 = StartGateway(cluster, "prgw");
        try
        {
            await using (var a = await ConnectAsync(gw1, HostA))
            await using (var b = await ConnectAsync(gw2, HostB))
            {
                Assert.That(await a.RegisterAsync(0xA, ReservationCommand.PtplSet), Is.EqualTo(NvmeStatus.Success), "A registers on gateway 1 (PTPL)");
                Assert.That(await b.RegisterAsync(0xB), Is.EqualTo(NvmeStatus.Success), "B registers on gateway 2");
                Assert.That(await b.WriteAsync(), Is.EqualTo(NvmeStatus.Success), "no reservation yet");

                // A takes Write Exclusive on gateway 1; B's very next write on gateway 2 conflicts.
                var watch = Stopwatch.StartNew();
                Assert.That(await a.AcquireAsync(0xA, ReservationType.WriteExclusive), Is.EqualTo(NvmeStatus.Success));
                var acquired = watch.Elapsed;
                Assert.That(await b.WriteAsync(), Is.EqualTo(Conflict), "B's write on gateway 2 right after the acquire on gateway 1");
                var enforced = watch.Elapsed;
                Assert.That(await b.ReadAsync(), Is.EqualTo(NvmeStatus.Success), "B still reads under Write Exclusive");
                Assert.That(await a.WriteAsync(), Is.EqualTo(NvmeStatus.Success), "the holder writes on gateway 1");
                TestContext.Progress.WriteLine($"acquire on gateway 1: {acquired.TotalMilliseconds:F1} ms (compare-and-set + notify acked by gateway 2); "
                    + $"B's write refused on gateway 2 {(enforced - acquired).TotalMilliseconds:F1} ms later (its own round trip)");

                // A preempts B's registration on gateway 1: B's controller on gateway 2 gets the AEN and the notice.
                var aer = b.Admin.AsyncEventRequestAsync();
                Assert.That(await a.AcquireAsync(0xA, ReservationType.WriteExclusive, ReservationCommand.PreemptAction, preempt: 0xB), Is.EqualTo(NvmeStatus.Success));
                var aen = await aer.WaitAsync(TimeSpan.FromSeconds(30));
                Assert.That(AsyncEvent.FromDw0(aen.Dw0), Is.EqualTo(AsyncEvent.ReservationLogAvailable), "AEN on gateway 2");
                var log = ReservationNotificationLog.Read((await b.Admin.GetLogPageAsync(LogPageIds.ReservationNotification, 64)).Data);
                Assert.That((log.Type, log.Nsid), Is.EqualTo((ReservationNotificationLog.TypeRegistrationPreempted, 1u)), "log 80h on gateway 2");
                var report = await b.ReportAsync();
                Assert.That(report.Registrants.Select(r => r.HostId), Is.EqualTo(new[] { HostA }), "gateway 2 reports A only");

                // The other direction: B registers again on gateway 2 and takes the reservation with Preempt and Abort;
                // A's next write on gateway 1 conflicts.
                Assert.That(await b.RegisterAsync(0xB2), Is.EqualTo(NvmeStatus.Success));
                Assert.That(await b.AcquireAsync(0xB2, ReservationType.WriteExclusive, ReservationCommand.PreemptAndAbortAction, preempt: 0xA), Is.EqualTo(NvmeStatus.Success));
                Assert.That(await a.WriteAsync(), Is.EqualTo(Conflict), "A's write on gateway 1 right after B's preempt on gateway 2");
                Assert.That(await b.WriteAsync(), Is.EqualTo(NvmeStatus.Success), "B writes as the new holder");
                Assert.That(await b.SetPtplAsync(), Is.EqualTo(NvmeStatus.Success), "B keeps PTPL on");
            }
        }
        finally
        {
            await gw1.DisposeAsync();
            await gw2.DisposeAsync();
        }

        var version = cluster.Rados($"-p rbd getxattr {RbdReservationStore.ObjectPrefix}{cluster.ImageId("prgw")} {RbdReservationStore.VersionXattr}").Trim();
        TestContext.Progress.WriteLine($"state object version after the run: {version}");
        Assert.That(ulong.Parse(version, System.Globalization.CultureInfo.InvariantCulture), Is.GreaterThanOrEqualTo(6UL), "rados getxattr: every change went to the object");

        // Both gateways restart: the reservation and B's registration are still there, enforced by both.
        await using var gw1b = StartGateway(cluster, "prgw");
        await using var gw2b = StartGateway(cluster, "prgw");
        await using var a2 = await ConnectAsync(gw2b, HostA);
        await using var b2 = await ConnectAsync(gw1b, HostB);
        var after = await a2.ReportAsync();
        Assert.Multiple(() =>
        {
            Assert.That(after.Type, Is.EqualTo(ReservationType.WriteExclusive));
            Assert.That(after.Registrants.Select(r => (r.HostId, r.Key, r.HoldsReservation)), Is.EqualTo(new[] { (HostB, 0xB2UL, true) }));
        });
        Assert.That(await a2.WriteAsync(), Is.EqualTo(Conflict), "A on the restarted gateway 2");
        Assert.That(await b2.WriteAsync(), Is.EqualTo(NvmeStatus.Success), "B on the restarted gateway 1");
    }

    [Test]
    public async Task RegistrationsThroughBothGatewaysAtOnce_NoneLost()
    {
        var cluster = RbdClusterFixture.Require();
        cluster.CreateImage("prcas", "16M");
        await using var gw1 = StartGateway(cluster, "prcas");
        await using var gw2 = StartGateway(cluster, "prcas");
        var hosts = Enumerable.Range(1, 8).Select(i => new Guid($"cccccccc-5140-4000-8000-{i:x12}")).ToArray();
        var connected = await Task.WhenAll(hosts.Select((h, i) => ConnectAsync(i % 2 == 0 ? gw1 : gw2, h)));
        try
        {
            var statuses = await Task.WhenAll(connected.Select((h, i) => h.RegisterAsync(0x100UL + (ulong)i)));
            Assert.That(statuses, Is.All.EqualTo(NvmeStatus.Success));
            foreach (var reporter in new[] { connected[0], connected[1] })
            {
                var report = await reporter.ReportAsync();
                Assert.That(report.Registrants.Select(r => r.HostId), Is.EquivalentTo(hosts), "every registration, seen from either gateway");
            }

            var version = cluster.Rados($"-p rbd getxattr {RbdReservationStore.ObjectPrefix}{cluster.ImageId("prcas")} {RbdReservationStore.VersionXattr}").Trim();
            Assert.That(version, Is.EqualTo(hosts.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)), "one version per registration");
        }
        finally
        {
            foreach (var h in connected)
            {
                await h.DisposeAsync();
            }
        }
    }

    [Test]
    public async Task StateObjectRemovedWhileGatewaysRun_IsRecreatedAtTheVersionTheyHold_ChangesContinue()
    {
        var cluster = RbdClusterFixture.Require();
        cluster.CreateImage("prrm", "16M");
        await using var gw1 = StartGateway(cluster, "prrm");
        await using var gw2 = StartGateway(cluster, "prrm");
        await using var a = await ConnectAsync(gw1, HostA);
        await using var b = await ConnectAsync(gw2, HostB);
        Assert.That(await a.RegisterAsync(0xA), Is.EqualTo(NvmeStatus.Success));
        Assert.That(await a.AcquireAsync(0xA, ReservationType.WriteExclusive), Is.EqualTo(NvmeStatus.Success));
        var name = RbdReservationStore.ObjectPrefix + cluster.ImageId("prrm");
        cluster.Rados($"-p rbd rm {name}");

        // The watches break; the gateways re-create the object at version 2 and keep enforcing what they hold.
        var watch = Stopwatch.StartNew();
        while (!cluster.Rados("-p rbd ls").Contains(name, StringComparison.Ordinal))
        {
            Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), "the object is re-created");
            await Task.Delay(200);
        }

        Assert.That(await b.WriteAsync(), Is.EqualTo(Conflict), "gateway 2 still enforces A's reservation");
        Assert.That(await b.RegisterAsync(0xB), Is.EqualTo(NvmeStatus.Success), "a change after the re-creation");
        Assert.That((await a.ReportAsync()).Registrants.Select(r => r.HostId), Is.EquivalentTo(new[] { HostA, HostB }), "seen on gateway 1");
        Assert.That(cluster.Rados($"-p rbd getxattr {name} {RbdReservationStore.VersionXattr}").Trim(), Is.EqualTo("3"));
    }

    /// <summary>One host's admin and I/O queue on one gateway.</summary>
    private sealed record Host(RawNvmeHost Admin, RawNvmeHost Io) : IAsyncDisposable
    {
        public async Task<NvmeStatus> SendAsync(byte opcode, ReservationCommand fields, ulong key, ulong other = 0)
        {
            var data = new byte[opcode == IoOpcodes.ReservationRelease ? 8 : 16];
            ReservationCommand.WriteKeys(data, key, other);
            return (await Io.ExecuteAsync(Io.Command(opcode, 1, cdw10: fields.ToCdw10(), length: (uint)data.Length), data, null)).Status;
        }

        public Task<NvmeStatus> RegisterAsync(ulong key, byte cptpl = 0) =>
            SendAsync(IoOpcodes.ReservationRegister, new ReservationCommand(ReservationCommand.RegisterAction, false, ReservationType.None, cptpl), 0, key);

        /// <summary>Replace with the same key and CPTPL 11b: sets PTPL.</summary>
        public async Task<NvmeStatus> SetPtplAsync()
        {
            var report = await ReportAsync();
            var key = report.Registrants.Single(r => r.HostId == Io.ConnectHostId).Key;
            return await SendAsync(IoOpcodes.ReservationRegister, new ReservationCommand(ReservationCommand.ReplaceAction, false, ReservationType.None, ReservationCommand.PtplSet), key, key);
        }

        public Task<NvmeStatus> AcquireAsync(ulong key, ReservationType type, byte action = ReservationCommand.AcquireAction, ulong preempt = 0) =>
            SendAsync(IoOpcodes.ReservationAcquire, new ReservationCommand(action, false, type, 0), key, preempt);

        public async Task<ReservationReport> ReportAsync()
        {
            var buffer = new byte[4096];
            var r = await Io.ExecuteAsync(Io.Command(IoOpcodes.ReservationReport, 1, cdw10: 4096 / 4 - 1, cdw11: 1, length: 4096), default, buffer);
            Assert.That(r.Status.IsSuccess, Is.True, r.Status.ToString());
            return ReservationReport.Read(buffer);
        }

        public async Task<NvmeStatus> WriteAsync() => (await Io.WriteAsync(1, 8, new byte[512])).Status;

        public async Task<NvmeStatus> ReadAsync() => (await Io.ReadAsync(1, 8, 512)).Status;

        public async ValueTask DisposeAsync()
        {
            await Io.DisposeAsync();
            await Admin.DisposeAsync();
        }
    }
}
