using NvmeMptls.Crypto.Psk;
using NvmeMptls.Target.Namespaces;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Tests.Target;

/// <summary>
/// Access control as a host sees it (issue 12): a host not on a subsystem's list cannot Connect to it and does not
/// find it in the discovery log, while an allowed host does; host NQNs a peer sends and TLS identities are held to
/// the length and character rules.
/// </summary>
public sealed class AccessControlTests
{
    private const string Restricted = "nqn.2026-01.io.nvmemptls:restricted";
    private const string Allowed = "nqn.2014-08.org.nvmexpress:uuid:22222222-2222-3333-4444-555555555555";

    [Test]
    public async Task HostNotOnTheList_CannotConnect_AndDoesNotSeeTheSubsystemInDiscovery()
    {
        await using var target = new InMemoryTarget();
        var restricted = new Subsystem(Restricted, "RESTRICTED01", "NvmeMptls Test", isDiscovery: false, new HostAccess(false, new HashSet<string> { Allowed }));
        restricted.AddNamespace(new TargetNamespace(1, new MemoryBlockDevice(1 << 20, 512), Guid.NewGuid(), Guid.NewGuid(), readOnly: false));
        target.Registry.AddSubsystem(restricted);

        var stranger = target.Connect();
        await stranger.InitializeAsync();
        var refused = await stranger.ConnectAsync(Restricted, 0, 31);
        Assert.That(refused.Status, Is.EqualTo(NvmeStatus.Make(1, 0x84, dnr: true)), "Connect Invalid Host");

        var friend = target.Connect();
        await friend.InitializeAsync();
        Assert.That((await friend.ConnectAsync(Restricted, 0, 31, hostNqn: Allowed)).Status.IsSuccess, Is.True);

        Assert.That(await DiscoveredAsync(target, RawNvmeHost.HostNqn), Is.EquivalentTo(new[] { InMemoryTarget.SubsystemNqn }), "what a host not on the list discovers");
        Assert.That(await DiscoveredAsync(target, Allowed), Is.EquivalentTo(new[] { InMemoryTarget.SubsystemNqn, Restricted }), "what the allowed host discovers");
    }

    [TestCase("nqn.2014-08.org.nvmexpress:uuid:1111\u0001", "control characters")]
    [TestCase("host-without-prefix", "must start with \"nqn.\"")]
    public async Task HostNqnBreakingTheRule_IsRefusedAtItsOffset(string hostNqn, string why)
    {
        Assert.That(Nqn.CheckPeer(hostNqn), Does.Contain(why));
        await using var target = new InMemoryTarget();
        var host = target.Connect();
        await host.InitializeAsync();
        var r = await host.ConnectAsync(InMemoryTarget.SubsystemNqn, 0, 31, hostNqn: hostNqn);
        Assert.That(r.Status, Is.EqualTo(NvmeStatus.Make(1, 0x82, dnr: true)));
        Assert.That(r.Dw0, Is.EqualTo(ConnectResponse.InvalidHostNqn));
    }

    [Test]
    public async Task HostNqnOver223Bytes_IsRefusedAtItsOffset()
    {
        var longNqn = "nqn.2014-08.io.example:" + new string('h', 224 - 23);
        Assert.That(System.Text.Encoding.UTF8.GetByteCount(longNqn), Is.EqualTo(224));
        await using var target = new InMemoryTarget();
        var host = target.Connect();
        await host.InitializeAsync();
        var r = await host.ConnectAsync(InMemoryTarget.SubsystemNqn, 0, 31, hostNqn: longNqn);
        Assert.That(r.Status.Is(NvmeStatusCodes.ConnectInvalidParameters), Is.True, r.Status.ToString());
        Assert.That(r.Dw0, Is.EqualTo(ConnectResponse.InvalidHostNqn));
    }

    [TestCase("NVMe1R01 nqn.h\u0007 nqn.s iSbjiStwJ/1TrTvDlt2fjFmzvsytOJelidNnA+X5lEU=")]
    [TestCase("NVMe0R01 nqn.h nqn.s\u0000")]
    public void TlsIdentityWithControlCharacters_IsRefused(string identity) =>
        Assert.That(NvmePskIdentity.TryParse(identity, out _, out var why), Is.False, why);

    [Test]
    public void TlsIdentityWithAnNqnOver223Bytes_IsRefused()
    {
        var longNqn = "nqn." + new string('s', 220);
        Assert.That(NvmePskIdentity.TryParse($"NVMe0R01 nqn.h {longNqn}", out _, out var why), Is.False);
        Assert.That(why, Does.Contain("223"));
    }

    private static async Task<List<string>> DiscoveredAsync(InMemoryTarget target, string hostNqn)
    {
        var host = target.Connect();
        await host.InitializeAsync();
        Assert.That((await host.ConnectAsync(WellKnownNqns.Discovery, 0, 31, hostNqn: hostNqn)).Status.IsSuccess, Is.True);
        Assert.That((await host.PropertySetAsync(PropertyOffsets.Cc, 1)).Status.IsSuccess, Is.True);
        var page = await host.GetLogPageAsync(0x70, 4096);
        Assert.That(page.Status.IsSuccess, Is.True, page.Status.ToString());
        var (_, records) = DiscoveryLog.ReadHeader(page.Data);
        var nqns = new List<string>();
        for (var i = 0; i < (int)records; i++)
        {
            var entry = DiscoveryLogEntry.Read(page.Data.AsSpan(DiscoveryLogEntry.Size * (i + 1), DiscoveryLogEntry.Size));
            if (entry.SubsystemType == DiscoveryLogEntry.SubTypeNvm)
            {
                nqns.Add(entry.SubsystemNqn);
            }
        }

        return nqns;
    }
}
