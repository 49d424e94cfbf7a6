using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Target.Namespaces;

/// <summary>
/// Preempt and Abort (NVMe Base 2.0 §7.3, §8.19.7) against the namespace's device gate: the acquire does not complete
/// while a command of the preempted host is still on the device, and a command of that host reaching the device
/// afterwards completes with Command Aborted due to Preempt and Abort. A plain Preempt does not wait.
/// </summary>
public sealed class PreemptAndAbortTests
{
    private static readonly Guid A = Guid.Parse("aaaaaaaa-0000-0000-0000-000000000001");
    private static readonly Guid B = Guid.Parse("bbbbbbbb-0000-0000-0000-000000000002");
    private static readonly NvmeStatus Aborted = NvmeStatus.Make(0, 0x1B, dnr: true);
    private static readonly NvmeStatus Conflict = NvmeStatus.Make(0, 0x83, dnr: true);

    private static NamespaceReservations TwoRegistrants()
    {
        var r = new NamespaceReservations();
        Assert.That(r.Register(A, new ReservationCommand(ReservationCommand.RegisterAction, false, ReservationType.None, 0), 0, 0xA, []), Is.EqualTo(NvmeStatus.Success));
        Assert.That(r.Register(B, new ReservationCommand(ReservationCommand.RegisterAction, false, ReservationType.None, 0), 0, 0xB, []), Is.EqualTo(NvmeStatus.Success));

        // A holds Write Exclusive - Registrants Only: B writes as a registrant until its registration is preempted.
        Assert.That(r.Acquire(A, new ReservationCommand(ReservationCommand.AcquireAction, false, ReservationType.WriteExclusiveRegistrantsOnly, 0), 0xA, 0, []),
            Is.EqualTo(NvmeStatus.Success));
        return r;
    }

    private static Task<NvmeStatus> PreemptB(NamespaceReservations r, byte action) =>
        Task.Run(() => r.Acquire(A, new ReservationCommand(action, false, ReservationType.WriteExclusiveRegistrantsOnly, 0), 0xA, 0xB, []));

    [Test]
    public async Task PreemptAndAbort_WaitsForThePreemptedHostsCommandOnTheDevice_ThenRefusesItsNext()
    {
        var r = TwoRegistrants();
        Assert.That(r.EnterIo(B, write: true, out var slot), Is.EqualTo(NvmeStatus.Success), "B's write reaches the device");

        var acquire = PreemptB(r, ReservationCommand.PreemptAndAbortAction);
        await Task.Delay(300);
        Assert.That(acquire.IsCompleted, Is.False, "Preempt and Abort completes only after B's command left the device");
        Assert.That(r.EnterIo(B, write: true, out var late), Is.EqualTo(Aborted), "B's command arriving at the device now is aborted");
        Assert.That(late, Is.EqualTo(-1));
        Assert.That(r.EnterIo(B, write: false, out var read), Is.EqualTo(NvmeStatus.Success), "reads do not conflict with a Write Exclusive reservation");
        r.ExitIo(read);

        r.ExitIo(slot);
        Assert.That(await acquire.WaitAsync(TimeSpan.FromSeconds(30)), Is.EqualTo(NvmeStatus.Success));
        Assert.Multiple(() =>
        {
            Assert.That(r.CheckAccess(B, write: true), Is.EqualTo(Conflict), "new commands of B: Reservation Conflict at validation");
            Assert.That(r.Report(_ => 0).Registrants.Select(e => e.HostId), Is.EqualTo(new[] { A }));
            Assert.That(r.InGate, Is.Zero);
        });
    }

    [Test]
    public async Task PlainPreempt_DoesNotWait_AndRefusesWithReservationConflict()
    {
        var r = TwoRegistrants();
        Assert.That(r.EnterIo(B, write: true, out var slot), Is.EqualTo(NvmeStatus.Success));
        Assert.That(await PreemptB(r, ReservationCommand.PreemptAction).WaitAsync(TimeSpan.FromSeconds(30)), Is.EqualTo(NvmeStatus.Success));
        Assert.That(r.EnterIo(B, write: true, out _), Is.EqualTo(Conflict));
        r.ExitIo(slot);
        Assert.That(r.InGate, Is.Zero);
    }

    [Test]
    public void Gate_UnderConcurrentEntries_CountsBalance()
    {
        var r = TwoRegistrants();
        Parallel.For(0, 20_000, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            if (r.EnterIo(i % 2 == 0 ? A : B, write: true, out var s).IsSuccess)
            {
                r.ExitIo(s);
            }

            if (i == 10_000)
            {
                Assert.That(r.Acquire(A, new ReservationCommand(ReservationCommand.PreemptAndAbortAction, false, ReservationType.WriteExclusiveRegistrantsOnly, 0), 0xA, 0xB, []),
                    Is.EqualTo(NvmeStatus.Success));
            }
        });
        Assert.Multiple(() =>
        {
            Assert.That(r.InGate, Is.Zero);
            Assert.That(r.EnterIo(B, write: true, out _), Is.EqualTo(Aborted));
        });
    }
}
