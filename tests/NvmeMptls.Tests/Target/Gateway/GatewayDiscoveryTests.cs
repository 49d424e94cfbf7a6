using NvmeMptls.Target.Subsystems;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Target.Gateway;

/// <summary>The discovery log lists a gateway group's other members' ports (TargetRegistry.PeerPorts) after this target's own.</summary>
public sealed class GatewayDiscoveryTests
{
    [Test]
    public async Task PeerPorts_AreListedForEverySubsystem_AndChangingThemBumpsTheGeneration()
    {
        await using var target = new InMemoryTarget();
        ulong before = target.Registry.DiscoveryGeneration;
        target.Registry.PeerPorts = [new TargetPortInfo(4112, "198.18.1.2", 4421, PortTlsMode.Required)];
        ulong after = target.Registry.DiscoveryGeneration;
        target.Registry.PeerPorts = [new TargetPortInfo(4112, "198.18.1.2", 4421, PortTlsMode.Required)];

        var host = target.Connect();
        await host.InitializeAsync();
        Assert.That((await host.ConnectAsync(WellKnownNqns.Discovery, 0, 31)).Status.IsSuccess, Is.True);
        Assert.That((await host.PropertySetAsync(PropertyOffsets.Cc, 1)).Status.IsSuccess, Is.True);
        var page = await host.GetLogPageAsync(0x70, 4096);
        Assert.That(page.Status.IsSuccess, Is.True, page.Status.ToString());
        var (generation, records) = DiscoveryLog.ReadHeader(page.Data);
        var entries = Enumerable.Range(1, (int)records)
            .Select(i => DiscoveryLogEntry.Read(page.Data.AsSpan(DiscoveryLogEntry.Size * i, DiscoveryLogEntry.Size)))
            .Where(e => e.SubsystemNqn == InMemoryTarget.SubsystemNqn).ToList();
        var peer = entries.Single(e => e.TransportAddress == "198.18.1.2");
        Assert.Multiple(() =>
        {
            Assert.That(after, Is.GreaterThan(before), "a new peer list is a discovery change");
            Assert.That(target.Registry.DiscoveryGeneration, Is.EqualTo(after), "the same list again changes nothing");
            Assert.That(generation, Is.EqualTo(after));
            Assert.That(entries, Has.Count.EqualTo(2), "this target's port, then the peer's");
            Assert.That(entries[^1], Is.EqualTo(peer));
            Assert.That(peer.PortId, Is.EqualTo(4112));
            Assert.That(peer.TransportServiceId, Is.EqualTo("4421"));
            Assert.That(peer.TransportRequirements & 0x3, Is.EqualTo(DiscoveryLogEntry.TreqRequired));
            Assert.That(peer.SecurityType, Is.EqualTo(DiscoveryLogEntry.SecTypeTls13));
        });
    }
}
