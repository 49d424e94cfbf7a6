using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Target.Namespaces;

/// <summary>
/// Two gateways' <see cref="NamespaceReservations"/> on one shared state: compare-and-set on the version (a change made
/// on a stale copy is run again on the newer state, never lost), changes enforced on the other gateway before the
/// command completes, notices raised there, views never going back to an older version, and the freshness bound.
/// The shared object is <see cref="SharedObject"/>: the semantics of the RADOS object (cmpxattr + write_full, watch
/// and notify with acks) in memory; the real one is tested against Ceph in RbdSharedReservationTests.
/// </summary>
public sealed class SharedReservationsTests
{
    private static readonly Guid A = Guid.Parse("aaaaaaaa-0000-0000-0000-000000000001");
    private static readonly Guid B = Guid.Parse("bbbbbbbb-0000-0000-0000-000000000002");
    private static readonly Guid C = Guid.Parse("cccccccc-0000-0000-0000-000000000003");
    private static readonly NvmeStatus Conflict = NvmeStatus.Make(0, 0x83, dnr: true);

    private static ReservationCommand Cmd(byte action, ReservationType type = ReservationType.None, byte cptpl = 0) => new(action, false, type, cptpl);

    private static NvmeStatus Register(NamespaceReservations r, Guid host, ulong key) => r.Register(host, Cmd(ReservationCommand.RegisterAction), 0, key, []);

    [Test]
    public void ChangeOnOneGateway_IsEnforcedOnTheOther_BeforeTheCommandReturns()
    {
        var shared = new SharedObject();
        var (g1, g2) = (new NamespaceReservations(shared.Gateway()), new NamespaceReservations(shared.Gateway()));
        Assert.That(Register(g1, A, 0xA), Is.EqualTo(NvmeStatus.Success));
        Assert.That(g1.Acquire(A, Cmd(ReservationCommand.AcquireAction, ReservationType.WriteExclusive), 0xA, 0, []), Is.EqualTo(NvmeStatus.Success));

        // No waiting, no reload: the notify was acked by gateway 2 before Acquire returned.
        Assert.Multiple(() =>
        {
            Assert.That(g2.CheckAccess(B, write: true), Is.EqualTo(Conflict), "host B's write on gateway 2");
            Assert.That(g2.CheckAccess(A, write: true), Is.EqualTo(NvmeStatus.Success), "the holder's write on gateway 2");
            Assert.That(g2.Version, Is.EqualTo(2UL));
            Assert.That(g2.Report(_ => 0xFFFF).Type, Is.EqualTo(ReservationType.WriteExclusive), "gateway 2's locked state followed too");
        });
    }

    [Test]
    public void ConcurrentChangesOnStaleCopies_BothSurvive_ByRetryOnTheNewerState()
    {
        var shared = new SharedObject { Deliver = false }; // notifies lost: each gateway works on a stale copy
        var (g1, g2) = (new NamespaceReservations(shared.Gateway()), new NamespaceReservations(shared.Gateway()));
        Assert.That(Register(g1, A, 0xA), Is.EqualTo(NvmeStatus.Success));
        Assert.That(Register(g2, B, 0xB), Is.EqualTo(NvmeStatus.Success), "gateway 2's write at version 0 loses, is run again at version 1");
        Assert.That(g2.Acquire(B, Cmd(ReservationCommand.AcquireAction, ReservationType.ExclusiveAccess), 0xB, 0, []), Is.EqualTo(NvmeStatus.Success));

        // Gateway 1 still believes nobody holds a reservation; its acquire must fail on the newer state, not overwrite it.
        Assert.That(g1.Acquire(A, Cmd(ReservationCommand.AcquireAction, ReservationType.WriteExclusive), 0xA, 0, []), Is.EqualTo(Conflict));
        var stored = shared.Current;
        Assert.Multiple(() =>
        {
            Assert.That(shared.Conflicts, Is.GreaterThanOrEqualTo(2), "compare-and-set failures seen");
            Assert.That(stored.Version, Is.EqualTo(3UL));
            Assert.That(stored.Snapshot.Registrants.Select(r => r.Key), Is.EquivalentTo(new[] { A, B }));
            Assert.That((stored.Snapshot.Type, stored.Snapshot.Holder), Is.EqualTo((ReservationType.ExclusiveAccess, B)));
            Assert.That(g1.CheckAccess(A, write: false), Is.EqualTo(Conflict), "gateway 1 enforces the state it reloaded");
        });
    }

    [Test]
    public void ParallelRegistrations_OnBothGateways_NoneLost()
    {
        var shared = new SharedObject();
        var gateways = new[] { new NamespaceReservations(shared.Gateway()), new NamespaceReservations(shared.Gateway()) };
        var hosts = Enumerable.Range(1, 40).Select(i => new Guid(i, 0, 0, new byte[8])).ToArray();
        Parallel.For(0, hosts.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
            Assert.That(Register(gateways[i % 2], hosts[i], (ulong)i + 1), Is.EqualTo(NvmeStatus.Success)));
        Assert.Multiple(() =>
        {
            Assert.That(shared.Current.Snapshot.Registrants.Select(r => r.Key), Is.EquivalentTo(hosts));
            Assert.That(shared.Current.Version, Is.EqualTo((ulong)hosts.Length));
            Assert.That(gateways[0].Report(_ => 0).Registrants, Has.Count.EqualTo(hosts.Length));
            Assert.That(gateways[1].Report(_ => 0).Registrants, Has.Count.EqualTo(hosts.Length));
        });
    }

    [Test]
    public void PreemptOnOneGateway_RaisesTheNoticeOnTheOther()
    {
        var shared = new SharedObject();
        var (g1, g2) = (new NamespaceReservations(shared.Gateway()), new NamespaceReservations(shared.Gateway()));
        var raised = new List<ReservationNotice>();
        g2.NoticesRaised = n => { lock (raised) { raised.AddRange(n); } };
        Register(g2, B, 0xB);
        Register(g1, A, 0xA);
        var local = new List<ReservationNotice>();
        Assert.That(g1.Acquire(A, Cmd(ReservationCommand.PreemptAction, ReservationType.WriteExclusive), 0xA, 0xB, local), Is.EqualTo(NvmeStatus.Success));
        Assert.That(local, Is.EqualTo(new[] { new ReservationNotice(B, ReservationNotificationLog.TypeRegistrationPreempted) }));
        Assert.That(() => { lock (raised) { return raised.ToArray(); } }, Is.EqualTo(local.ToArray()).After(5000, 10), "gateway 2 raised the same notice");
    }

    [Test]
    public async Task PreemptAndAbortOnOneGateway_WaitsForThePreemptedHostsCommandOnTheOther()
    {
        var shared = new SharedObject();
        var (g1, g2) = (new NamespaceReservations(shared.Gateway()), new NamespaceReservations(shared.Gateway()));
        Register(g1, A, 0xA);
        Register(g2, B, 0xB);
        Assert.That(g1.Acquire(A, Cmd(ReservationCommand.AcquireAction, ReservationType.WriteExclusiveRegistrantsOnly), 0xA, 0, []), Is.EqualTo(NvmeStatus.Success));
        Assert.That(g2.EnterIo(B, write: true, out var slot), Is.EqualTo(NvmeStatus.Success), "B's write on gateway 2's device");

        var acquire = Task.Run(() => g1.Acquire(A, Cmd(ReservationCommand.PreemptAndAbortAction, ReservationType.WriteExclusiveRegistrantsOnly), 0xA, 0xB, []));
        await Task.Delay(500);
        Assert.That(acquire.IsCompleted, Is.False, "gateway 2 acks only after B's command left its device");
        Assert.That(g2.EnterIo(B, write: true, out _), Is.EqualTo(NvmeStatus.Make(0, 0x1B, dnr: true)), "B's next command on gateway 2 is aborted");
        g2.ExitIo(slot);
        Assert.That(await acquire.WaitAsync(TimeSpan.FromSeconds(30)), Is.EqualTo(NvmeStatus.Success));
    }

    [Test]
    public void OlderRemoteChange_NeverReplacesANewerView()
    {
        var shared = new SharedObject();
        var g = new NamespaceReservations(shared.Gateway());
        IReservationChangeListener listener = g;
        var holdsA = new ReservationSnapshot(1, ReservationType.WriteExclusive, A, false, [new(A, 1)]);
        listener.OnRemoteChange(new ReservationChange(5, holdsA, [], []), () => { });
        listener.OnRemoteChange(new ReservationChange(4, ReservationSnapshot.Empty, [], []), () => { });
        Assert.Multiple(() =>
        {
            Assert.That(g.Version, Is.EqualTo(5UL));
            Assert.That(g.CheckAccess(B, write: true), Is.EqualTo(Conflict));
        });
    }

    [Test]
    public void PastTheFreshnessBound_IoGetsNamespaceNotReady_UntilRevalidated()
    {
        var shared = new SharedObject();
        var g = new NamespaceReservations(shared.Gateway());
        IReservationChangeListener listener = g;
        listener.OnFreshUntil(Environment.TickCount64 - 1);
        Assert.That(g.CheckAccess(A, write: false), Is.EqualTo(new NvmeStatus(NvmeStatusCodes.NamespaceNotReady)), "no DNR: the host retries");
        listener.OnFreshUntil(Environment.TickCount64 + 60_000);
        Assert.That(g.CheckAccess(A, write: false), Is.EqualTo(NvmeStatus.Success));
    }

    [Test]
    public void ChangeText_RoundTrips_AndBadLinesAreNamed()
    {
        var change = new ReservationChange(42, new ReservationSnapshot(3, ReservationType.ExclusiveAccess, A, true, [new(A, 0x11), new(C, 0x33)]),
            [new ReservationNotice(C, 1)], [C]);
        var back = ReservationChange.Parse(change.Format(), "test");
        Assert.Multiple(() =>
        {
            Assert.That(back.Version, Is.EqualTo(42UL));
            Assert.That(back.Notices, Is.EqualTo(change.Notices));
            Assert.That(back.Aborted, Is.EqualTo(change.Aborted));
            Assert.That(back.Snapshot.Registrants, Is.EqualTo(change.Snapshot.Registrants));
            Assert.That((back.Snapshot.Type, back.Snapshot.Holder, back.Snapshot.PersistThroughPowerLoss), Is.EqualTo((ReservationType.ExclusiveAccess, A, true)));
        });
        Assert.That(() => ReservationChange.Parse(change.Format().Replace("notice", "notise", StringComparison.Ordinal), "obj"),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("obj:3: unknown key 'notise'"));
        Assert.That(() => ReservationChange.Parse("nvmemptls-reservation-change 1\nversion 1\n", "obj"),
            Throws.TypeOf<InvalidDataException>().With.Message.Contains("the state after it"));
    }

    /// <summary>One RADOS object as the gateways see it: a version-guarded write, and notify to every other watcher with acks.</summary>
    private sealed class SharedObject
    {
        private readonly Lock _lock = new();
        private readonly List<GatewayStore> _watchers = [];
        private string _content = ReservationChange.Initial.Format();

        public bool Deliver { get; init; } = true;

        public int Conflicts { get; private set; }

        public ReservationChange Current
        {
            get
            {
                lock (_lock)
                {
                    return ReservationChange.Parse(_content, "object");
                }
            }
        }

        public ISharedReservationStore Gateway() => new GatewayStore(this);

        private sealed class GatewayStore(SharedObject owner) : ISharedReservationStore
        {
            private IReservationChangeListener? _listener;

            public ReservationSnapshot Load() => LoadVersioned().Snapshot;

            public void Save(ReservationSnapshot snapshot) => throw new NotSupportedException("shared stores save by TryWrite");

            public ReservationChange LoadVersioned() => owner.Current;

            public bool TryWrite(ReservationSnapshot snapshot, ulong expectedVersion)
            {
                lock (owner._lock)
                {
                    if (ReservationChange.Parse(owner._content, "object").Version != expectedVersion)
                    {
                        owner.Conflicts++;
                        return false;
                    }

                    owner._content = new ReservationChange(expectedVersion + 1, snapshot, [], []).Format();
                    return true;
                }
            }

            public void Broadcast(ReservationChange change)
            {
                if (!owner.Deliver)
                {
                    return;
                }

                GatewayStore[] others;
                lock (owner._lock)
                {
                    others = [.. owner._watchers.Where(w => w != this)];
                }

                // As rados_notify2: the payload goes through its text form; returns when every watcher acked.
                var payload = change.Format();
                using var acked = new CountdownEvent(others.Length);
                foreach (var other in others)
                {
                    other._listener!.OnRemoteChange(ReservationChange.Parse(payload, "notify"), () => acked.Signal());
                }

                Assert.That(acked.Wait(TimeSpan.FromSeconds(30)), Is.True, "every watcher acked");
            }

            public void Start(IReservationChangeListener listener)
            {
                _listener = listener;
                listener.OnFreshUntil(long.MaxValue);
                lock (owner._lock)
                {
                    owner._watchers.Add(this);
                }
            }
        }
    }
}
