using System.Collections.Immutable;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Hosting;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Nvme;
using static NvmeMptls.Tests.Target.Configuration.ConfigurationTestKit;

namespace NvmeMptls.Tests.Target.Configuration;

/// <summary>Target:Gateway: read, validated with the key named, the peers' ports for discovery, the live-reloadable part.</summary>
public sealed class GatewayConfigurationTests
{
    private const string Gw = "Target:Gateway";

    private static readonly (string, string?)[] s_base =
    [
        ("Target:Subsystems:0:Nqn", "nqn.2026-01.io.example:a"),
        ("Target:Subsystems:0:Namespaces:0:Size", "1MiB"),
        ("Target:Ports:0:Port", "4420"),
        ($"{Gw}:Group", "rack1"),
        ($"{Gw}:Name", "gw1"),
        ($"{Gw}:Pool", "rbd"),
        ($"{Gw}:LeaseDuration", "00:00:10"),
        ($"{Gw}:AnaGroups:0:Id", "2"),
        ($"{Gw}:AnaGroups:0:PreferredOwner", "gw2"),
        ($"{Gw}:Members:0:Name", "gw1"),
        ($"{Gw}:Members:0:ControlUrl", "http://127.0.0.1:9464/metrics"),
        ($"{Gw}:Members:0:Ports:0:Address", "127.0.0.1"),
        ($"{Gw}:Members:0:Ports:0:Port", "4420"),
        ($"{Gw}:Members:1:Name", "gw2"),
        ($"{Gw}:Members:1:Ports:0:Address", "10.0.0.2"),
        ($"{Gw}:Members:1:Ports:0:Port", "4421"),
        ($"{Gw}:Members:1:Ports:0:Tls", "true"),
    ];

    [Test]
    public void GatewayKeys_AreRead_WithDefaults()
    {
        var gw = Load(s_base).Gateway!;
        Assert.Multiple(() =>
        {
            Assert.That(gw.Group, Is.EqualTo("rack1"));
            Assert.That(gw.Name, Is.EqualTo("gw1"));
            Assert.That(gw.LeaseDuration, Is.EqualTo(TimeSpan.FromSeconds(10)));
            Assert.That(gw.EffectiveSafetyMargin, Is.EqualTo(TimeSpan.FromSeconds(2)));
            Assert.That(gw.StandbyState, Is.EqualTo(AnaState.Inaccessible));
            Assert.That(gw.AnaGroups.Single(), Is.EqualTo(new GatewayAnaGroupOptions { Id = 2, PreferredOwner = "gw2" }));
            Assert.That(gw.Members.Select(m => m.Name), Is.EqualTo(new[] { "gw1", "gw2" }));
            Assert.That(gw.Members[1].Ports.Single().Tls, Is.True);
            Assert.That(Load(s_base.Where(kv => !kv.Item1.StartsWith(Gw, StringComparison.Ordinal)).ToArray()).Gateway, Is.Null);
        });
    }

    [Test]
    public void BadGatewayValues_AreAllReportedWithTheirKeys()
    {
        ImmutableArray<string> errors = Errors([.. s_base,
            ($"{Gw}:Name", "gw9"),
            ($"{Gw}:Pool", ""),
            ($"{Gw}:LeaseDuration", "00:00:01"),
            ($"{Gw}:StandbyState", "optimized"),
            ($"{Gw}:AnaGroups:1:Id", "2"),
            ($"{Gw}:AnaGroups:2:Id", "200"),
            ($"{Gw}:AnaGroups:0:PreferredOwner", "gw3"),
            ($"{Gw}:Members:1:Ports:0:Port", "70000"),
            ($"{Gw}:Members:1:Ports:0:Transport", "rdma"),
            ($"{Gw}:Members:2:Name", "gw1"),
            ($"{Gw}:Members:2:Ports:0:Address", "host.example")]);
        Assert.Multiple(() =>
        {
            Assert.That(errors, Does.Contain($"{Gw}:Name: 'gw9' is not one of {Gw}:Members (gw1, gw2)"));
            Assert.That(errors, Does.Contain($"{Gw}:Pool: is required (the RADOS pool of the lease objects)"));
            Assert.That(errors, Does.Contain($"{Gw}:LeaseDuration: must be from 00:00:03 to 00:10:00 (was 00:00:01)"));
            Assert.That(errors, Does.Contain($"{Gw}:StandbyState: must be inaccessible or non-optimized (was 'optimized')"));
            Assert.That(errors, Does.Contain($"{Gw}:AnaGroups:1:Id: ANA group 2 is listed twice"));
            Assert.That(errors, Does.Contain($"{Gw}:AnaGroups:2:Id: must be an ANA group id from 1 to 128 (was 200)"));
            Assert.That(errors, Does.Contain($"{Gw}:AnaGroups:0:PreferredOwner: 'gw3' is not one of {Gw}:Members (gw1, gw2)"));
            Assert.That(errors, Does.Contain($"{Gw}:Members:1:Ports:0:Port: must be from 1 to 65535 (was 70000)"));
            Assert.That(errors, Does.Contain($"{Gw}:Members:1:Ports:0:Transport: must be tcp (was 'rdma')"));
            Assert.That(errors, Does.Contain($"{Gw}:Members:2:Name: 'gw1' is listed twice"));
            Assert.That(errors, Does.Contain($"{Gw}:Members:2:Ports:0:Address: must be an IP address (was 'host.example')"));
        });
    }

    [Test]
    public void RbdCache_IsOffInAGatewayGroupUnlessConfigured_AndABadValueNamesItsKey()
    {
        const string Ns = "Target:Subsystems:0:Namespaces";
        (string, string?)[] rbd = [.. s_base, ($"{Ns}:1:Nsid", "2"), ($"{Ns}:1:Backing", "rbd"), ($"{Ns}:1:Rbd:Pool", "rbd"), ($"{Ns}:1:Rbd:Image", "a"),
            ($"{Ns}:2:Nsid", "3"), ($"{Ns}:2:Backing", "rbd"), ($"{Ns}:2:Rbd:Pool", "rbd"), ($"{Ns}:2:Rbd:Image", "b"), ($"{Ns}:2:Rbd:Cache", "true")];
        var inGroup = Load(rbd).Subsystems[0].Namespaces;
        var alone = Load(rbd.Where(kv => !kv.Item1.StartsWith(Gw, StringComparison.Ordinal)).ToArray()).Subsystems[0].Namespaces;
        Assert.Multiple(() =>
        {
            Assert.That(inGroup[1].Rbd!.Cache, Is.False);
            Assert.That(inGroup[2].Rbd!.Cache, Is.True, "configured: kept");
            Assert.That(alone[1].Rbd!.Cache, Is.Null, "no gateway group: ceph.conf decides");
            Assert.That(Errors([.. rbd, ($"{Ns}:2:Rbd:Cache", "maybe")]), Does.Contain($"{Ns}:2:Rbd:Cache: must be true or false (was 'maybe')"));
        });
    }

    [Test]
    public void PeerPorts_AreTheOtherMembersPorts_WithIdsApartFromOurs()
    {
        var peers = GatewayHosting.PeerPorts(Load(s_base).Gateway!);
        Assert.That(peers, Is.EqualTo(new[] { new TargetPortInfo(4096 + 16, "10.0.0.2", 4421, PortTlsMode.Required) }));
    }

    [Test]
    public void StandbyStatePreferredOwnerAndMembers_AreLive_TheRestNeedsARestart()
    {
        var a = Load(s_base).Gateway!;
        var live = Load([.. s_base, ($"{Gw}:StandbyState", "non-optimized"), ($"{Gw}:AnaGroups:0:PreferredOwner", "gw1"), ($"{Gw}:Members:1:Ports:0:Port", "4430")]).Gateway!;
        var restart = Load([.. s_base, ($"{Gw}:Pool", "other")]).Gateway!;
        Assert.Multiple(() =>
        {
            Assert.That(Load(s_base).Gateway, Is.EqualTo(a), "read twice: equal, a reload changes nothing");
            Assert.That(live, Is.Not.EqualTo(a));
            Assert.That(a.SameExceptLive(live), Is.True);
            Assert.That(a.SameExceptLive(restart), Is.False);
        });
    }

    [Test]
    public void ApplyAna_GatewayStatesOverrideTheConfiguredOnes_OtherGroupsKeepTheirs()
    {
        var options = Load([.. s_base, ("Target:Ports:0:AnaStates:2", "optimized"), ("Target:Ports:0:AnaStates:3", "inaccessible")]);
        var registry = TargetBuilder.BuildRegistry(options, NullLoggerFactory.Instance);
        TargetBuilder.ApplyAna(registry, options, new Dictionary<uint, AnaState> { [2] = AnaState.Inaccessible });
        Assert.Multiple(() =>
        {
            Assert.That(registry.Ana.StateOf(1, 2), Is.EqualTo(AnaState.Inaccessible));
            Assert.That(registry.Ana.StateOf(1, 3), Is.EqualTo(AnaState.Inaccessible));
            Assert.That(registry.Ana.StateOf(1, 1), Is.EqualTo(AnaState.Optimized));
        });
    }
}
