using NvmeMptls.Target.Subsystems;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Target.Commands;

/// <summary>
/// Reservations over the queue with two hosts (different HOSTIDs) of one in-memory target: conflicts on the wire,
/// the extended report, the notification log and its AEN, features 83h/84h, Identify's ONCS and RESCAP.
/// </summary>
public sealed class ReservationWireTests
{
    private static readonly Guid HostA = Guid.Parse("aaaaaaaa-1111-2222-3333-444444444444");
    private static readonly Guid HostB = Guid.Parse("bbbbbbbb-1111-2222-3333-444444444444");
    private static readonly NvmeStatus Conflict = NvmeStatus.Make(0, 0x83, dnr: true);

    private static async Task<(RawNvmeHost Admin, RawNvmeHost Io)> HostAsync(InMemoryTarget target, Guid hostId, string nqn)
    {
        var admin = target.Connect();
        admin.ConnectHostId = hostId;
        await admin.InitializeAsync();
        Assert.That((await admin.ConnectAsync(InMemoryTarget.SubsystemNqn, 0, 31, hostNqn: nqn)).Status.IsSuccess, Is.True);
        await admin.EnableAsync();
        Assert.That((await admin.SetFeatureAsync(FeatureIds.NumberOfQueues, 0)).Status.IsSuccess, Is.True);
        var io = target.Connect();
        io.ConnectHostId = hostId;
        await io.InitializeAsync();
        Assert.That((await io.ConnectAsync(InMemoryTarget.SubsystemNqn, 1, 31, admin.ControllerId, nqn)).Status.IsSuccess, Is.True);
        return (admin, io);
    }

    private static Task<(RawNvmeHost Admin, RawNvmeHost Io)> TwoHosts(InMemoryTarget target, out Task<(RawNvmeHost Admin, RawNvmeHost Io)> b)
    {
        b = HostAsync(target, HostB, "nqn.2014-08.org.nvmexpress:uuid:bbbbbbbb-1111-2222-3333-444444444444");
        return HostAsync(target, HostA, "nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-1111-2222-3333-444444444444");
    }

    private static async Task<NvmeStatus> SendAsync(RawNvmeHost io, byte opcode, ReservationCommand fields, ulong key, ulong other = 0)
    {
        var data = new byte[opcode == IoOpcodes.ReservationRelease ? 8 : 16];
        ReservationCommand.WriteKeys(data, key, other);
        var cmd = io.Command(opcode, 1, cdw10: fields.ToCdw10(), length: (uint)data.Length);
        return (await io.ExecuteAsync(cmd, data, null)).Status;
    }

    private static Task<NvmeStatus> RegisterAsync(RawNvmeHost io, ulong key, byte cptpl = 0) =>
        SendAsync(io, IoOpcodes.ReservationRegister, new ReservationCommand(ReservationCommand.RegisterAction, false, ReservationType.None, cptpl), 0, key);

    private static Task<NvmeStatus> AcquireAsync(RawNvmeHost io, ulong key, ReservationType type, byte action = 0, ulong preempt = 0) =>
        SendAsync(io, IoOpcodes.ReservationAcquire, new ReservationCommand(action, false, type, 0), key, preempt);

    private static async Task<(NvmeStatus Status, ReservationReport? Report)> ReportAsync(RawNvmeHost io, bool extended = true)
    {
        var buffer = new byte[4096];
        var cmd = io.Command(IoOpcodes.ReservationReport, 1, cdw10: 4096 / 4 - 1, cdw11: extended ? 1u : 0u, length: 4096);
        var r = await io.ExecuteAsync(cmd, default, buffer);
        return (r.Status, r.Status.IsSuccess ? ReservationReport.Read(buffer) : null);
    }

    [Test]
    public async Task WriteExclusive_OtherHostsWritesConflict_ReadsServe_ReportShowsBoth()
    {
        await using var target = new InMemoryTarget();
        var (a, b) = (await TwoHosts(target, out var bTask), await bTask);
        Assert.That(await RegisterAsync(a.Io, 0xAAAA), Is.EqualTo(NvmeStatus.Success));
        Assert.That(await RegisterAsync(b.Io, 0xBBBB), Is.EqualTo(NvmeStatus.Success));
        Assert.That(await AcquireAsync(a.Io, 0xAAAA, ReservationType.WriteExclusive), Is.EqualTo(NvmeStatus.Success));

        await Assert.MultipleAsync(async () =>
        {
            Assert.That((await a.Io.WriteAsync(1, 0, new byte[512])).Status.IsSuccess, Is.True, "holder writes");
            Assert.That((await b.Io.WriteAsync(1, 0, new byte[512])).Status, Is.EqualTo(Conflict), "other host's write");
            Assert.That((await b.Io.FlushAsync(1)).Status, Is.EqualTo(Conflict), "other host's flush counts as a write");
            Assert.That((await b.Io.ReadAsync(1, 0, 512)).Status.IsSuccess, Is.True, "other host reads");
        });

        var (status, report) = await ReportAsync(b.Io);
        Assert.That(status.IsSuccess, Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(report!.Type, Is.EqualTo(ReservationType.WriteExclusive));
            Assert.That(report.Generation, Is.EqualTo(2u));
            Assert.That(report.Registrants.Select(r => (r.HostId, r.Key, r.HoldsReservation)),
                Is.EquivalentTo(new[] { (HostA, 0xAAAAUL, true), (HostB, 0xBBBBUL, false) }));
            Assert.That(report.Registrants.Single(r => r.HostId == HostA).ControllerId, Is.EqualTo(a.Admin.ControllerId));
        });
        Assert.That((await ReportAsync(b.Io, extended: false)).Status, Is.EqualTo(NvmeStatus.Make(0, 0x18, dnr: true)), "128-bit host ids need EDS");
    }

    [Test]
    public async Task PreemptAndAbort_TakesTheReservation_ThePreemptedHostGetsTheNoticeAndTheLog()
    {
        await using var target = new InMemoryTarget();
        var (a, b) = (await TwoHosts(target, out var bTask), await bTask);
        await RegisterAsync(a.Io, 1);
        await RegisterAsync(b.Io, 2);
        await AcquireAsync(a.Io, 1, ReservationType.ExclusiveAccess);
        Assert.That((await b.Io.ReadAsync(1, 0, 512)).Status, Is.EqualTo(Conflict), "exclusive access: reads too");
        var aer = a.Admin.AsyncEventRequestAsync();

        Assert.That(await AcquireAsync(b.Io, 2, ReservationType.WriteExclusive, ReservationCommand.PreemptAndAbortAction, preempt: 1), Is.EqualTo(NvmeStatus.Success));
        var notice = await aer.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.That(AsyncEvent.FromDw0(notice.Dw0), Is.EqualTo(AsyncEvent.ReservationLogAvailable));
        var log = await a.Admin.GetLogPageAsync(LogPageIds.ReservationNotification, 64);
        var entry = ReservationNotificationLog.Read(log.Data);
        var empty = ReservationNotificationLog.Read((await a.Admin.GetLogPageAsync(LogPageIds.ReservationNotification, 64)).Data);
        await Assert.MultipleAsync(async () =>
        {
            Assert.That(entry.Type, Is.EqualTo(ReservationNotificationLog.TypeRegistrationPreempted));
            Assert.That(entry.Nsid, Is.EqualTo(1u));
            Assert.That(entry.Count, Is.EqualTo(1UL));
            Assert.That(empty.Type, Is.EqualTo(ReservationNotificationLog.TypeEmpty), "a read removes the notice");
            Assert.That((await a.Io.WriteAsync(1, 0, new byte[512])).Status, Is.EqualTo(Conflict), "A lost its registration");
            Assert.That((await b.Io.WriteAsync(1, 0, new byte[512])).Status.IsSuccess, Is.True);
        });
    }

    [Test]
    public async Task NotificationMask_SilencesTheNotice()
    {
        await using var target = new InMemoryTarget();
        var (a, b) = (await TwoHosts(target, out var bTask), await bTask);
        Assert.That((await a.Admin.ExecuteAsync(a.Admin.Command(AdminOpcodes.SetFeatures, 1, cdw10: FeatureIds.ReservationNotificationMask, cdw11: 0x0E), default, null)).Status.IsSuccess, Is.True);
        await RegisterAsync(a.Io, 1);
        await RegisterAsync(b.Io, 2);
        var aer = a.Admin.AsyncEventRequestAsync();
        Assert.That(await AcquireAsync(b.Io, 2, ReservationType.WriteExclusive, ReservationCommand.PreemptAction, preempt: 1), Is.EqualTo(NvmeStatus.Success));
        await Task.Delay(200);
        Assert.That(aer.IsCompleted, Is.False);
        Assert.That(ReservationNotificationLog.Read((await a.Admin.GetLogPageAsync(LogPageIds.ReservationNotification, 64)).Data).Type, Is.Zero);
    }

    [Test]
    public async Task Identify_ReportsReservationsInOncsAndRescap_PtplFeatureNeedsAStore()
    {
        await using var target = new InMemoryTarget();
        var (a, _) = await HostAsync(target, HostA, "nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-1111-2222-3333-444444444444");
        var ctrl = new byte[4096];
        var ns = new byte[4096];
        await a.ExecuteAsync(a.Command(AdminOpcodes.Identify, cdw10: IdentifyCns.Controller, length: 4096), default, ctrl);
        await a.ExecuteAsync(a.Command(AdminOpcodes.Identify, 1, cdw10: IdentifyCns.Namespace, length: 4096), default, ns);
        await Assert.MultipleAsync(async () =>
        {
            Assert.That(IdentifyController.Read(ctrl).Oncs & 0x20, Is.Not.Zero, "ONCS bit 5");
            Assert.That(IdentifyNamespace.Read(ns).ReservationCapabilities, Is.EqualTo(0xFE), "all types, no PTPL without a store");
            var set = await a.ExecuteAsync(a.Command(AdminOpcodes.SetFeatures, 1, cdw10: FeatureIds.ReservationPersistence, cdw11: 1), default, null);
            Assert.That(set.Status, Is.EqualTo(NvmeStatus.Make(1, 0x0E, dnr: true)), "Feature Not Changeable");
        });
    }
}
