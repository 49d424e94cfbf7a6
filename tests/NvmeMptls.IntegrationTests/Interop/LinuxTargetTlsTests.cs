using NvmeMptls.Cli;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Initiator;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.IntegrationTests.Interop;

/// <summary>
/// Our initiator with TLS 1.3 against the Linux kernel target (nvmet-tcp, TLS required, tlshd/GnuTLS as the TLS
/// server), once per guest:
/// <list type="bullet">
/// <item>trixie (kernel 6.12, nvme-cli 2.13, tlshd 1.0, GnuTLS 3.8.9), SHA-256 key: nvme-cli inserts the retained
/// PSKs with version-0 identities (<c>NVMe0R01 host subsys</c>) derived in libnvme's older "compat" form, so that
/// is what we offer.</item>
/// <item>forky (kernel 7.2, nvme-cli 2.16, tlshd 1.4, GnuTLS 3.8.13), SHA-384 key: version-0 identities in the
/// RFC 8446 form; TLS_AES_256_GCM_SHA384.</item>
/// </list>
/// </summary>
// SHA-384 cannot be tested on trixie: its GnuTLS 3.8.9 computes every PSK binder with SHA-256 (its headers have no
// gnutls_psk_allocate_{client,server}_credentials2, the calls that take the PSK's hash; forky's 3.8.13 has them and
// tlshd uses them when present), so tlshd 1.0 answers a correct SHA-384 ClientHello with GnuTLS error -55.
[TestFixture(NvmePskHash.Sha256, "trixie", true)]
[TestFixture(NvmePskHash.Sha384, "forky", false)]
[NonParallelizable]
[Category("Interop")]
public sealed class LinuxTargetTlsTests(NvmePskHash hash, string suite, bool compat)
{
    private const string HostNqn = "nqn.2014-08.org.nvmexpress:uuid:6e6f7661-6c75-6520-7465-737474657374";
    private LinuxTargetVm? _vm;

    /// <summary>A SHA-256 PSK pairs with TLS_AES_128_GCM_SHA256, a SHA-384 one with TLS_AES_256_GCM_SHA384 (reference §4.3).</summary>
    private string Suite => hash == NvmePskHash.Sha384 ? "TLS_AES_256_GCM_SHA384" : "TLS_AES_128_GCM_SHA256";
    private string _key = "";

    private NvmeControllerOptions Options(string subsystem, int ioQueues) => NvmeControllerOptions.Default with
    {
        TargetPort = _vm!.Port,
        SubsystemNqn = subsystem,
        HostNqn = HostNqn,
        HostId = HostIdentity.UuidFromNqn(HostNqn) ?? Guid.NewGuid(),
        IoQueueCount = ioQueues,
        Tls = true,
        TlsKey = _key,
        TlsIdentityVersion = 0,
        TlsCompat = compat,
        ConnectTimeout = TimeSpan.FromSeconds(30),
        ReconnectDelay = TimeSpan.FromSeconds(1),
        ControllerLossTimeout = TimeSpan.FromSeconds(30),
    };

    [OneTimeSetUp]
    public async Task BootTarget()
    {
        using var key = ConfiguredPsk.Generate(hash);
        _key = key.ToInterchange();
        _vm = await LinuxTargetVm.BootOrIgnoreAsync(() => LinuxTargetVm.StartTlsAsync(TimeSpan.FromSeconds(240), HostNqn, _key, suite), "the Linux TLS target VM");
    }

    [OneTimeTearDown]
    public async Task StopTarget()
    {
        if (_vm is not null)
        {
            TestContext.Progress.WriteLine("guest console:\n" + _vm.ConsoleTail);
            await _vm.DisposeAsync();
        }
    }

    [Test]
    public async Task DiscoveryOverTls_ListsTheSubsystemAsTlsRequired()
    {
        var entries = await NvmeDiscovery.GetLogAsync(Options(WellKnownNqns.Discovery, 0));
        var nvm = entries.Single(e => e.SubsystemType == DiscoveryLogEntry.SubTypeNvm);
        Assert.Multiple(() =>
        {
            Assert.That(nvm.SubsystemNqn, Is.EqualTo(LinuxTargetVm.SubsystemNqn));
            Assert.That(nvm.SecurityType, Is.EqualTo(DiscoveryLogEntry.SecTypeTls13));
            Assert.That(nvm.TransportRequirements & 3, Is.EqualTo(DiscoveryLogEntry.TreqRequired));
        });
    }

    [Test]
    public async Task ConnectWithTls_TwoQueues_WriteReadVerify()
    {
        await using var controller = await NvmeController.ConnectAsync(Options(LinuxTargetVm.SubsystemNqn, 2));
        foreach (var path in controller.GetQueuePaths())
        {
            Assert.That(path.Tls, Is.Not.Null, $"queue {path.QueueId} is not TLS");
            Assert.That(path.Tls!.CipherSuiteName, Is.EqualTo(Suite));
            Assert.That(path.Tls.PskIdentity, Does.StartWith($"NVMe0R0{(int)hash} {HostNqn} "));
        }

        var ns = await controller.OpenNamespaceAsync(1);
        var data = new byte[8 << 20];
        new Random(11).NextBytes(data);
        var tasks = new List<Task>();
        for (var off = 0; off < data.Length; off += 128 << 10)
        {
            tasks.Add(ns.WriteAsync((ulong)(off / ns.LbaSize), data.AsMemory(off, 128 << 10)).AsTask());
        }

        await Task.WhenAll(tasks);
        var back = new byte[data.Length];
        tasks.Clear();
        for (var off = 0; off < data.Length; off += 128 << 10)
        {
            tasks.Add(ns.ReadAsync((ulong)(off / ns.LbaSize), back.AsMemory(off, 128 << 10)).AsTask());
        }

        await Task.WhenAll(tasks);
        Assert.That(back.AsSpan().SequenceEqual(data), Is.True, "data read back over TLS differs");
    }

    /// <summary>
    /// Many TLS queues, several times: the Linux target fails handshakes that overlap (tlshd 1.1 and later, forky,
    /// unlinks the target's keyring from the session keyring its handshake processes share whenever one handshake ends:
    /// "failed to search 'psk' key"). Both guests failed this with the I/O queues connected in parallel; the initiator
    /// opens TLS queues one at a time, as the Linux host does.
    /// </summary>
    [Test]
    public async Task EightTlsQueues_ConnectedFourTimes_EveryHandshakeFindsItsKey()
    {
        for (var round = 0; round < 4; round++)
        {
            var started = System.Diagnostics.Stopwatch.StartNew();
            await using var controller = await NvmeController.ConnectAsync(Options(LinuxTargetVm.SubsystemNqn, 8) with { ControllerLossTimeout = TimeSpan.Zero });
            TestContext.Out.WriteLine($"round {round}: admin + {controller.GetQueuePaths().Count - 1} TLS I/O queues in {started.ElapsedMilliseconds} ms");
            Assert.That(controller.GetQueuePaths().Where(p => p.Tls is not null).Count(), Is.EqualTo(9));
        }
    }

    [Test]
    public async Task WrongKey_IsRefusedWithAClearError()
    {
        using var other = ConfiguredPsk.Generate(hash);
        var options = Options(LinuxTargetVm.SubsystemNqn, 1) with { TlsKey = other.ToInterchange(), ControllerLossTimeout = TimeSpan.Zero };
        var ex = Assert.ThrowsAsync(Is.InstanceOf<IOException>(), async () => await NvmeController.ConnectAsync(options));
        Assert.That(ex!.Message, Does.Contain("TLS handshake failed"));
    }

    [Test]
    public async Task Cli_StatusWithTls_ShowsTlsOnEveryQueue()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var rc = await Program.RunAsync(
            ["status", "-a", "127.0.0.1", "-s", _vm!.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-n", LinuxTargetVm.SubsystemNqn,
             "-q", HostNqn, "--tls", "--tls-key", _key, "--tls-identity-version", "0", .. (compat ? new[] { "--tls-compat" } : []), "--nr-io-queues", "2"],
            output, error, Stream.Null, Stream.Null, CancellationToken.None);
        TestContext.Out.WriteLine(output.ToString());
        Assert.That(rc, Is.Zero, error.ToString());
        Assert.That(output.ToString().Split('\n').Count(l => l.Contains("TLS " + Suite, StringComparison.Ordinal)), Is.EqualTo(3));
    }
}
