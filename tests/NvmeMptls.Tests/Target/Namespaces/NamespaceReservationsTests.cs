using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Target.Namespaces;

/// <summary>The reservation state machine of NVMe Base 2.0 §8.19, one host identifier per host, without the wire.</summary>
public sealed class NamespaceReservationsTests
{
    private static readonly Guid A = Guid.Parse("aaaaaaaa-0000-0000-0000-000000000001");
    private static readonly Guid B = Guid.Parse("bbbbbbbb-0000-0000-0000-000000000002");
    private static readonly Guid C = Guid.Parse("cccccccc-0000-0000-0000-000000000003");
    private static readonly NvmeStatus Conflict = NvmeStatus.Make(0, 0x83, dnr: true);
    private static readonly NvmeStatus InvalidField = NvmeStatus.Make(0, 0x02, dnr: true);

    private static ReservationCommand Cmd(byte action, ReservationType type = ReservationType.None, bool iekey = false, byte cptpl = 0) => new(action, iekey, type, cptpl);

    private static NvmeStatus Register(NamespaceReservations r, Guid host, ulong key, List<ReservationNotice>? notices = null, byte cptpl = 0) =>
        r.Register(host, Cmd(ReservationCommand.RegisterAction, cptpl: cptpl), 0, key, notices ?? []);

    private static NvmeStatus Acquire(NamespaceReservations r, Guid host, ulong key, ReservationType type, byte action = ReservationCommand.AcquireAction, ulong preempt = 0, List<ReservationNotice>? notices = null) =>
        r.Acquire(host, Cmd(action, type), key, preempt, notices ?? []);

    [Test]
    public void WriteExclusive_HolderWrites_OthersOnlyRead()
    {
        var r = new NamespaceReservations();
        Assert.That(Register(r, A, 0xA), Is.EqualTo(NvmeStatus.Success));
        Assert.That(Acquire(r, A, 0xA, ReservationType.WriteExclusive), Is.EqualTo(NvmeStatus.Success));
        Assert.Multiple(() =>
        {
            Assert.That(r.Conflicts(A, write: true), Is.False);
            Assert.That(r.Conflicts(B, write: false), Is.False);
            Assert.That(r.Conflicts(B, write: true), Is.True);
        });
    }

    [TestCase(ReservationType.ExclusiveAccess, false, true)]
    [TestCase(ReservationType.WriteExclusiveRegistrantsOnly, true, false)]
    [TestCase(ReservationType.ExclusiveAccessRegistrantsOnly, true, true)]
    [TestCase(ReservationType.WriteExclusiveAllRegistrants, true, false)]
    [TestCase(ReservationType.ExclusiveAccessAllRegistrants, true, true)]
    public void AccessTable_PerType(ReservationType type, bool registrantWrites, bool nonRegistrantReadBlocked)
    {
        var r = new NamespaceReservations();
        Register(r, A, 1);
        Register(r, B, 2);
        Assert.That(Acquire(r, A, 1, type), Is.EqualTo(NvmeStatus.Success));
        Assert.Multiple(() =>
        {
            Assert.That(r.Conflicts(B, write: true), Is.EqualTo(!registrantWrites), "registrant B writes");
            Assert.That(r.Conflicts(C, write: true), Is.True, "non-registrant C writes");
            Assert.That(r.Conflicts(C, write: false), Is.EqualTo(nonRegistrantReadBlocked), "non-registrant C reads");
        });
    }

    [Test]
    public void Register_AgainWithAnotherKey_Conflicts_UnregisterNeedsTheKeyUnlessIekey()
    {
        var r = new NamespaceReservations();
        Assert.That(Register(r, A, 5), Is.EqualTo(NvmeStatus.Success));
        Assert.That(Register(r, A, 5), Is.EqualTo(NvmeStatus.Success), "same key again");
        Assert.That(Register(r, A, 6), Is.EqualTo(Conflict));
        Assert.That(r.Register(A, Cmd(ReservationCommand.UnregisterAction), 9, 0, []), Is.EqualTo(Conflict), "wrong current key");
        Assert.That(r.Register(A, Cmd(ReservationCommand.ReplaceAction), 5, 7, []), Is.EqualTo(NvmeStatus.Success));
        Assert.That(r.Register(A, Cmd(ReservationCommand.UnregisterAction, iekey: true), 0, 0, []), Is.EqualTo(NvmeStatus.Success), "IEKEY");
        Assert.That(r.Report(_ => 0xFFFF).Registrants, Is.Empty);
        Assert.That(r.Report(_ => 0xFFFF).Generation, Is.EqualTo(3u), "register, replace, unregister");
    }

    [Test]
    public void Acquire_ByNonRegistrantOrWithWrongKey_Conflicts_SecondAcquireOfAnotherHostConflicts()
    {
        var r = new NamespaceReservations();
        Register(r, A, 1);
        Register(r, B, 2);
        Assert.That(Acquire(r, C, 3, ReservationType.WriteExclusive), Is.EqualTo(Conflict));
        Assert.That(Acquire(r, A, 9, ReservationType.WriteExclusive), Is.EqualTo(Conflict));
        Assert.That(Acquire(r, A, 1, ReservationType.WriteExclusive), Is.EqualTo(NvmeStatus.Success));
        Assert.That(Acquire(r, A, 1, ReservationType.WriteExclusive), Is.EqualTo(NvmeStatus.Success), "holder acquiring again, same type");
        Assert.That(Acquire(r, B, 2, ReservationType.WriteExclusive), Is.EqualTo(Conflict));
        Assert.That(Acquire(r, A, 1, (ReservationType)7), Is.EqualTo(InvalidField));
    }

    [Test]
    public void Preempt_HoldersKey_TakesTheReservationAndUnregistersTheHolder()
    {
        var r = new NamespaceReservations();
        Register(r, A, 1);
        Register(r, B, 2);
        Register(r, C, 3);
        Acquire(r, A, 1, ReservationType.WriteExclusiveRegistrantsOnly);
        var notices = new List<ReservationNotice>();
        Assert.That(Acquire(r, B, 2, ReservationType.ExclusiveAccess, ReservationCommand.PreemptAndAbortAction, preempt: 1, notices: notices), Is.EqualTo(NvmeStatus.Success));
        var report = r.Report(_ => 0xFFFF);
        Assert.Multiple(() =>
        {
            Assert.That(report.Type, Is.EqualTo(ReservationType.ExclusiveAccess));
            Assert.That(report.Registrants.Select(x => (x.HostId, x.HoldsReservation)), Is.EquivalentTo(new[] { (B, true), (C, false) }));
            Assert.That(notices, Does.Contain(new ReservationNotice(A, ReservationNotificationLog.TypeRegistrationPreempted)));
            Assert.That(notices, Does.Contain(new ReservationNotice(C, ReservationNotificationLog.TypeReservationPreempted)));
            Assert.That(r.Conflicts(A, write: false), Is.True, "A lost access");
        });
    }

    [Test]
    public void Preempt_AnotherKey_OnlyUnregistersIt_AndAnUnknownKeyConflicts()
    {
        var r = new NamespaceReservations();
        Register(r, A, 1);
        Register(r, B, 2);
        Register(r, C, 3);
        Acquire(r, A, 1, ReservationType.WriteExclusive);
        Assert.That(Acquire(r, B, 2, ReservationType.WriteExclusive, ReservationCommand.PreemptAction, preempt: 3), Is.EqualTo(NvmeStatus.Success));
        Assert.That(r.Report(_ => 0xFFFF).Registrants.Select(x => x.HostId), Is.EquivalentTo(new[] { A, B }));
        Assert.That(r.Conflicts(B, write: true), Is.True, "A still holds");
        Assert.That(Acquire(r, B, 2, ReservationType.WriteExclusive, ReservationCommand.PreemptAction, preempt: 42), Is.EqualTo(Conflict));
        Assert.That(Acquire(r, B, 2, ReservationType.WriteExclusive, ReservationCommand.PreemptAction, preempt: 0), Is.EqualTo(InvalidField));
    }

    [Test]
    public void AllRegistrants_EveryRegistrantHolds_ReservationOutlivesTheAcquirer_PreemptZeroRemovesTheOthers()
    {
        var r = new NamespaceReservations();
        Register(r, A, 1);
        Register(r, B, 2);
        Register(r, C, 3);
        Acquire(r, A, 1, ReservationType.WriteExclusiveAllRegistrants);
        Assert.That(r.Register(A, Cmd(ReservationCommand.UnregisterAction), 1, 0, []), Is.EqualTo(NvmeStatus.Success));
        var report = r.Report(_ => 0xFFFF);
        Assert.That(report.Type, Is.EqualTo(ReservationType.WriteExclusiveAllRegistrants));
        Assert.That(report.Registrants.All(x => x.HoldsReservation), Is.True);
        Assert.That(Acquire(r, B, 2, ReservationType.ExclusiveAccessAllRegistrants, ReservationCommand.PreemptAction, preempt: 0), Is.EqualTo(NvmeStatus.Success));
        Assert.That(r.Report(_ => 0xFFFF).Registrants.Select(x => x.HostId), Is.EqualTo(new[] { B }));
        Assert.That(r.Register(B, Cmd(ReservationCommand.UnregisterAction), 2, 0, []), Is.EqualTo(NvmeStatus.Success));
        Assert.That(r.Report(_ => 0xFFFF).Type, Is.EqualTo(ReservationType.None), "the last registrant gone");
    }

    [Test]
    public void Release_TellsOtherRegistrantsOfARegistrantsOnlyReservation_ClearTellsThemPreempted()
    {
        var r = new NamespaceReservations();
        Register(r, A, 1);
        Register(r, B, 2);
        Acquire(r, A, 1, ReservationType.ExclusiveAccessRegistrantsOnly);
        var notices = new List<ReservationNotice>();
        Assert.That(r.Release(A, Cmd(ReservationCommand.ReleaseAction, ReservationType.WriteExclusive), 1, notices), Is.EqualTo(InvalidField), "type differs");
        Assert.That(r.Release(B, Cmd(ReservationCommand.ReleaseAction, ReservationType.ExclusiveAccessRegistrantsOnly), 2, notices), Is.EqualTo(NvmeStatus.Success), "not the holder: no effect");
        Assert.That(r.Report(_ => 0xFFFF).Type, Is.EqualTo(ReservationType.ExclusiveAccessRegistrantsOnly));
        Assert.That(r.Release(A, Cmd(ReservationCommand.ReleaseAction, ReservationType.ExclusiveAccessRegistrantsOnly), 1, notices), Is.EqualTo(NvmeStatus.Success));
        Assert.That(notices, Is.EqualTo(new[] { new ReservationNotice(B, ReservationNotificationLog.TypeReservationReleased) }));
        notices.Clear();
        Acquire(r, B, 2, ReservationType.WriteExclusive);
        Assert.That(r.Release(A, Cmd(ReservationCommand.ClearAction), 1, notices), Is.EqualTo(NvmeStatus.Success));
        Assert.That(notices, Is.EqualTo(new[] { new ReservationNotice(B, ReservationNotificationLog.TypeReservationPreempted) }));
        Assert.That(r.Report(_ => 0xFFFF).Registrants, Is.Empty);
        Assert.That(r.Conflicts(C, write: true), Is.False);
    }

    [Test]
    public void FileStore_KeepsTheStateAcrossARestartOnlyWithPtpl()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nvmemptls-pr-{Guid.NewGuid():N}");
        try
        {
            var first = new NamespaceReservations(new FileReservationStore(path));
            Assert.That(Register(first, A, 0x1122334455667788, cptpl: ReservationCommand.PtplSet), Is.EqualTo(NvmeStatus.Success));
            Register(first, B, 2);
            Acquire(first, A, 0x1122334455667788, ReservationType.WriteExclusive);

            var restarted = new NamespaceReservations(new FileReservationStore(path));
            var report = restarted.Report(_ => 0xFFFF);
            Assert.Multiple(() =>
            {
                Assert.That(report.PersistThroughPowerLoss, Is.True);
                Assert.That(report.Type, Is.EqualTo(ReservationType.WriteExclusive));
                Assert.That(report.Registrants.Select(x => (x.HostId, x.Key)), Is.EquivalentTo(new[] { (A, 0x1122334455667788UL), (B, 2UL) }));
                Assert.That(restarted.Conflicts(B, write: true), Is.True, "enforced after the restart");
            });

            Assert.That(restarted.TrySetPersistThroughPowerLoss(false), Is.True);
            var lost = new NamespaceReservations(new FileReservationStore(path));
            Assert.That(lost.Report(_ => 0xFFFF).Registrants, Is.Empty, "without PTPL a restart is a power loss");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void WithoutStore_PtplCannotBeSet()
    {
        var r = new NamespaceReservations();
        Assert.That(r.PersistenceSupported, Is.False);
        Assert.That(Register(r, A, 1, cptpl: ReservationCommand.PtplSet), Is.EqualTo(InvalidField));
        Assert.That(r.TrySetPersistThroughPowerLoss(true), Is.False);
    }

    [Test]
    public void FileStore_GarbageIsRefusedNamingTheFileAndLine()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nvmemptls-pr-{Guid.NewGuid():N}");
        try
        {
            File.WriteAllText(path, "nvmemptls-reservations 1\ntype 9\n");
            var ex = Assert.Throws<InvalidDataException>(() => new FileReservationStore(path).Load());
            Assert.That(ex!.Message, Does.Contain(path + ":2"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
