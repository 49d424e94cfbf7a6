using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NvmeMptls.Target.Gateway;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Target.Gateway;

/// <summary>The coordinator turns lease roles into ANA states on every local port (with the change count moving), over the fake lock.</summary>
[TestFixture]
public sealed class GatewayCoordinatorTests
{
    private static TargetRegistry Registry()
    {
        var registry = new TargetRegistry(new TargetLimits());
        var subsystem = new Subsystem("nqn.2026-01.io.example:gw", "sn", "model", isDiscovery: false, HostAccess.Any);
        subsystem.AddNamespace(new TargetNamespace(1, new MemoryBlockDevice(1 << 20, 512), Guid.NewGuid(), Guid.NewGuid(), false, 2));
        registry.AddSubsystem(subsystem);
        registry.AddPort(new TargetPortInfo(1, "127.0.0.1", 4420, PortTlsMode.None));
        registry.AddPort(new TargetPortInfo(2, "127.0.0.1", 4421, PortTlsMode.None));
        return registry;
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), what);
            await Task.Delay(10);
        }
    }

    [Test]
    public async Task Roles_BecomePortStates_OwnerOptimizedEverywhere_ReleasedBackToStandby()
    {
        var time = new FakeTimeProvider();
        var cluster = new FakeLeaseCluster(time);
        var registry = Registry();
        var settings = new GatewayLeaseSettings { Gateway = "gw1", Duration = TimeSpan.FromSeconds(15), SafetyMargin = TimeSpan.FromSeconds(3), PlannedMoveDrain = TimeSpan.Zero };
        await using var coordinator = new GatewayCoordinator(registry, settings, [new GatewayAnaGroup(2, "gw1")], AnaState.NonOptimized,
            _ => cluster.Connect("127.0.0.1:0/1"), time, NullLoggerFactory.Instance);

        coordinator.ApplyToPorts();
        Assert.Multiple(() =>
        {
            Assert.That(registry.Ana.StateOf(1, 2), Is.EqualTo(AnaState.NonOptimized), "standby until the lease says otherwise");
            Assert.That(registry.Ana.StateOf(2, 2), Is.EqualTo(AnaState.NonOptimized));
            Assert.That(registry.Ana.StateOf(1, 1), Is.EqualTo(AnaState.Optimized), "unmanaged group untouched");
        });

        ulong before = registry.Ana.ChangeCount;
        coordinator.Start();
        await Until(() => registry.Ana.StateOf(2, 2) == AnaState.Optimized, "gw1 takes the free group it prefers");
        Assert.Multiple(() =>
        {
            Assert.That(registry.Ana.StateOf(1, 2), Is.EqualTo(AnaState.Optimized));
            Assert.That(registry.Ana.ChangeCount, Is.GreaterThan(before));
            Assert.That(coordinator.Status().Single().Role, Is.EqualTo(GatewayRole.Owner));
            Assert.That(coordinator.Status().Single().Owner, Is.EqualTo("gw1"));
        });

        var (done, detail) = await coordinator.MoveAsync(2, "gw2");
        Assert.That(done, Is.True, detail);
        Assert.Multiple(() =>
        {
            Assert.That(registry.Ana.StateOf(1, 2), Is.EqualTo(AnaState.NonOptimized));
            Assert.That(cluster.ReleasedAttribute, Does.EndWith(">gw2"));
            Assert.That(cluster.Holder, Is.Null);
        });

        (done, detail) = await coordinator.MoveAsync(9, "gw2");
        Assert.That(done, Is.False);
        Assert.That(detail, Does.Contain("not managed"));
    }
}
