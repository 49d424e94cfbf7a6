using System.Collections.Immutable;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Initiator;
using NvmeMptls.Target.Configuration;
using NvmeMptls.Target.Hosting;
using NvmeMptls.Target.Server;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.IntegrationTests.Target;

/// <summary>Per-port TLS modes over loopback: optional peeks for a plain ICReq like Linux; required refuses plaintext.</summary>
[NonParallelizable]
public sealed class TlsPortModeTests
{
    private const string Key = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";

    private static (LoopbackTarget Target, ConnectionSecurity Security) Start(TlsMode mode)
    {
        var options = TargetOptions.Default with { Tls = new TlsOptions { Keys = ImmutableArray.Create(new TlsKeyOptions { Key = Key }) } };
        var security = TargetSecurity.Create(options, NullLoggerFactory.Instance, new TlsHandshakeCounters())!;
        return (LoopbackTarget.Start(namespaceBytes: 16 << 20, tls: mode, security: security), security);
    }

    private static NvmeControllerOptions Client(LoopbackTarget target, bool tls) => NvmeControllerOptions.Default with
    {
        TargetPort = target.Port,
        SubsystemNqn = LoopbackTarget.SubsystemNqn,
        IoQueueCount = 1,
        Tls = tls,
        TlsKey = tls ? Key : null,
        ControllerLossTimeout = TimeSpan.Zero,
        ReconnectDelay = TimeSpan.Zero,
    };

    private static async Task WriteReadAsync(NvmeController controller)
    {
        var ns = await controller.OpenNamespaceAsync(1);
        var data = new byte[64 << 10];
        new Random(9).NextBytes(data);
        await ns.WriteAsync(0, data);
        var back = new byte[data.Length];
        await ns.ReadAsync(0, back);
        Assert.That(back, Is.EqualTo(data));
    }

    [Test]
    public async Task OptionalPort_PlainAndTlsHosts_BothServed()
    {
        var (target, security) = Start(TlsMode.Optional);
        await using var _ = target;
        await using (var plain = await NvmeController.ConnectAsync(Client(target, tls: false)))
        {
            Assert.That(plain.GetQueuePaths().All(p => p.Tls is null), Is.True);
            await WriteReadAsync(plain);
        }

        await using (var secure = await NvmeController.ConnectAsync(Client(target, tls: true)))
        {
            Assert.That(secure.GetQueuePaths().All(p => p.Tls is not null), Is.True);
            await WriteReadAsync(secure);
        }

        Assert.That(security.Counters.Get("ok"), Is.EqualTo(2), "admin + one I/O queue over TLS");
    }

    [Test]
    public async Task RequiredPort_PlaintextHost_RefusedAndCounted_TlsHostServed()
    {
        var (target, security) = Start(TlsMode.Required);
        await using var _ = target;
        var ex = Assert.ThrowsAsync(Is.InstanceOf<Exception>(), async () => await NvmeController.ConnectAsync(Client(target, tls: false)));
        TestContext.Out.WriteLine($"plaintext host: {ex!.GetType().Name}: {ex.Message}");
        Assert.That(security.Counters.Get("plaintext-refused"), Is.GreaterThanOrEqualTo(1));
        await using var secure = await NvmeController.ConnectAsync(Client(target, tls: true));
        await WriteReadAsync(secure);
    }

    [Test]
    public async Task DiscoveryLog_AdvertisesTlsRequirementPerPort()
    {
        var (target, _) = Start(TlsMode.Required);
        await using var __ = target;
        var entries = await NvmeDiscovery.GetLogAsync(Client(target, tls: true) with { SubsystemNqn = WellKnownNqns.Discovery, IoQueueCount = 0 });
        var e = entries.Single();
        Assert.That(e.SecurityType, Is.EqualTo(DiscoveryLogEntry.SecTypeTls13));
        Assert.That(e.TransportRequirements & 3, Is.EqualTo(DiscoveryLogEntry.TreqRequired));
    }
}
