using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.IntegrationTests.Rbd;

/// <summary>
/// Reservations of an RBD namespace live in a RADOS object beside the image: a second gateway (another librbd client)
/// that opens the image after the first one changed them starts from the same registrants and reservation; `rados get`
/// shows the state as a second path.
/// </summary>
[NonParallelizable]
public sealed class RbdReservationStoreTests
{
    private static readonly Guid HostA = Guid.Parse("aaaaaaaa-1111-2222-3333-444444444444");
    private static readonly Guid HostB = Guid.Parse("bbbbbbbb-1111-2222-3333-444444444444");

    [Test]
    public async Task StateSavedByOneGateway_IsLoadedByTheNext_AndVisibleWithRadosGet()
    {
        var cluster = RbdClusterFixture.Require();
        cluster.CreateImage("pr", "16M");
        var location = new RbdImageLocation("rbd", "pr", CephConf: cluster.CephConf);
        await using (var first = RbdBlockDevice.Open(location))
        {
            var gateway1 = new NamespaceReservations(new RbdReservationStore(first));
            Assert.That(gateway1.PersistenceSupported, Is.True);
            Assert.That(gateway1.Register(HostA, new ReservationCommand(0, false, ReservationType.None, ReservationCommand.PtplSet), 0, 0xA1, []), Is.EqualTo(NvmeStatus.Success));
            Assert.That(gateway1.Register(HostB, new ReservationCommand(0, false, ReservationType.None, 0), 0, 0xB2, []), Is.EqualTo(NvmeStatus.Success));
            Assert.That(gateway1.Acquire(HostA, new ReservationCommand(0, false, ReservationType.WriteExclusiveRegistrantsOnly, 0), 0xA1, 0, []), Is.EqualTo(NvmeStatus.Success));
        }

        var meta = cluster.Rados($"-p rbd get {RbdReservationStore.ObjectPrefix}{cluster.ImageId("pr")} -");
        Assert.That(meta, Does.Contain("version 3").And.Contain("type 3").And.Contain("registrant aaaaaaaa-1111-2222-3333-444444444444 0x00000000000000a1"));

        await using var second = RbdBlockDevice.Open(location);
        var gateway2 = new NamespaceReservations(new RbdReservationStore(second));
        var report = gateway2.Report(_ => 0xFFFF);
        Assert.Multiple(() =>
        {
            Assert.That(report.Type, Is.EqualTo(ReservationType.WriteExclusiveRegistrantsOnly));
            Assert.That(report.PersistThroughPowerLoss, Is.True);
            Assert.That(report.Registrants.Select(r => (r.HostId, r.Key, r.HoldsReservation)), Is.EquivalentTo(new[] { (HostA, 0xA1UL, true), (HostB, 0xB2UL, false) }));
            Assert.That(gateway2.Conflicts(Guid.NewGuid(), write: true), Is.True, "a non-registrant's write on the second gateway");
            Assert.That(gateway2.Conflicts(HostB, write: true), Is.False, "a registrant's write");
        });
    }
}
