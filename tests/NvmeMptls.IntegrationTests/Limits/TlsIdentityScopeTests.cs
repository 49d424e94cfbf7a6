using NvmeMptls.Crypto.Handshake;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.IntegrationTests.Limits;

/// <summary>
/// A TLS PSK identity names a host and a subsystem; over that session the host may Connect to that subsystem (and
/// to discovery) only: a Connect naming another subsystem, or another host, gets Connect Invalid Host.
/// </summary>
public sealed class TlsIdentityScopeTests
{
    private const string Other = "nqn.2026-01.io.nvmemptls:other";

    [Test]
    public async Task TlsIdentity_OpensOnlyTheSubsystemItNames_AndDiscovery()
    {
        await using var target = LoopbackTarget.Start(namespaceBytes: 1 << 20, tls: TlsMode.Required, security: LimitsTestKit.Security(TlsMode.Required));
        var other = new Subsystem(Other, "OTHER0000001", "NvmeMptls Other", isDiscovery: false, HostAccess.Any);
        other.AddNamespace(new TargetNamespace(1, new MemoryBlockDevice(1 << 20, 512), Guid.NewGuid(), Guid.NewGuid(), readOnly: false));
        target.Server.Registry.AddSubsystem(other);

        // The identity names the loopback subsystem.
        Assert.That((await ConnectOverTlsAsync(target, LoopbackTarget.SubsystemNqn, LoopbackTarget.SubsystemNqn)).Status.IsSuccess, Is.True);
        Assert.That((await ConnectOverTlsAsync(target, LoopbackTarget.SubsystemNqn, WellKnownNqns.Discovery)).Status.IsSuccess, Is.True, "discovery");
        var wrongSubsystem = await ConnectOverTlsAsync(target, LoopbackTarget.SubsystemNqn, Other);
        Assert.That(wrongSubsystem.Status, Is.EqualTo(NvmeStatus.Make(1, 0x84, dnr: true)), "another subsystem than the identity names");

        // The same key with an identity naming the other subsystem opens that one.
        Assert.That((await ConnectOverTlsAsync(target, Other, Other)).Status.IsSuccess, Is.True);
        var wrongHost = await ConnectOverTlsAsync(target, Other, Other, hostNqn: "nqn.2014-08.org.nvmexpress:uuid:99999999-2222-3333-4444-555555555555");
        Assert.That(wrongHost.Status, Is.EqualTo(NvmeStatus.Make(1, 0x84, dnr: true)), "another host than the identity names");
    }

    private static async Task<NvmeCompletion> ConnectOverTlsAsync(LoopbackTarget target, string identitySubsystem, string connectTo, string hostNqn = RawNvmeHost.HostNqn)
    {
        using var key = ConfiguredPsk.Parse(LimitsTestKit.Key);
        using var psk = ClientPsk.Create(key, RawNvmeHost.HostNqn, identitySubsystem);
        var tcp = await StreamConnector.ConnectAsync(target.EndPoint, MultipathPolicy.Disabled);
        var tls = await NvmeTls.ConnectAsync(tcp, psk);
        await using var host = new RawNvmeHost(tls);
        await host.InitializeAsync();
        return await host.ConnectAsync(connectTo, 0, 31, hostNqn: hostNqn);
    }
}
