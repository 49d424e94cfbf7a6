using NvmeMptls.Target.Gateway;

namespace NvmeMptls.IntegrationTests.Rbd;

/// <summary>
/// The gateway lease's librados calls against the real single-node Ceph: exclusive lock with a duration, renewal,
/// another client refused, the OSD dropping the expired locker, the owner/release attributes, and fencing (blocklist)
/// that makes the fenced client's next renewal fail as blocklisted.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class RadosLeaseStoreTests
{
    [Test]
    public async Task LockRenewExpireAndFence_AgainstRealCeph()
    {
        var cluster = RbdClusterFixture.Require();
        var location = new RadosLeaseLocation("rbd", null, cluster.CephConf, null, TimeSpan.FromSeconds(10));
        string obj = RadosLeaseStore.ObjectNameFor("store-test-" + Environment.ProcessId, 7);
        using var a = RadosLeaseStore.Open(location, obj);
        using var b = RadosLeaseStore.Open(location, obj);
        Assert.That(a.ClientAddress, Does.Match(@"^\d+\.\d+\.\d+\.\d+:\d+/\d+$"));
        Assert.That(b.ClientAddress, Is.Not.EqualTo(a.ClientAddress));

        var free = b.Observe();
        Assert.That(free.HolderCookie, Is.Null, "a fresh object has no locker");

        string cookieA = new GatewayCookie("gwA", "n1", [a.ClientAddress]).ToString();
        string cookieB = new GatewayCookie("gwB", "n2", [b.ClientAddress]).ToString();
        var duration = TimeSpan.FromSeconds(3);
        Assert.That(a.Lock(cookieA, duration, renew: false, out var detail), Is.EqualTo(LeaseLockResult.Acquired), detail);
        a.RecordOwner(cookieA);
        Assert.That(b.Lock(cookieB, duration, renew: false, out _), Is.EqualTo(LeaseLockResult.Busy));
        Assert.That(b.Lock(cookieB, duration, renew: true, out _), Is.EqualTo(LeaseLockResult.NotHeld), "MUST_RENEW by a non-holder");
        Assert.That(a.Lock(cookieA, duration, renew: true, out detail), Is.EqualTo(LeaseLockResult.Acquired), detail);

        var held = b.Observe();
        Assert.Multiple(() =>
        {
            Assert.That(held.HolderCookie, Is.EqualTo(cookieA));
            Assert.That(held.HolderAddress, Does.Contain(a.ClientAddress.Split('/')[1]));
            Assert.That(held.LastOwnerCookie, Is.EqualTo(cookieA));
            Assert.That(held.ReleasedCookie, Is.Null);
        });

        // Not renewed: the OSD forgets the locker after the duration.
        await Task.Delay(duration + TimeSpan.FromSeconds(1));
        Assert.That(b.Observe().HolderCookie, Is.Null, "expired");

        // b fences a, then takes the lock; a's renewal now fails as a blocklisted client's.
        b.Fence([a.ClientAddress], TimeSpan.FromMinutes(10));
        try
        {
            Assert.That(b.Lock(cookieB, duration, renew: false, out detail), Is.EqualTo(LeaseLockResult.Acquired), detail);
            var result = a.Lock(cookieA, duration, renew: true, out detail);
            Assert.That(result, Is.AnyOf(LeaseLockResult.Fenced, LeaseLockResult.Failed), detail);
            Assert.That(cluster.Ceph("osd blocklist ls"), Does.Contain(a.ClientAddress));

            b.RecordRelease(cookieB, "gwA");
            Assert.That(b.Unlock(cookieB), Is.True);
            var released = b.Observe();
            Assert.Multiple(() =>
            {
                Assert.That(released.HolderCookie, Is.Null);
                Assert.That(released.ReleasedCookie, Is.EqualTo(cookieB));
                Assert.That(released.ReleasedTo, Is.EqualTo("gwA"));
            });
        }
        finally
        {
            cluster.Ceph($"osd blocklist rm {a.ClientAddress}");
        }
    }
}
