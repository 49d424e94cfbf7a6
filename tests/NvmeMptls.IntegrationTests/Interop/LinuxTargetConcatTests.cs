using NvmeMptls.Crypto.Auth;
using NvmeMptls.Initiator;

namespace NvmeMptls.IntegrationTests.Interop;

/// <summary>
/// Our initiator's secure channel concatenation (<see cref="NvmeControllerOptions.SecureConcat"/>, CLI <c>--concat</c>)
/// against the Linux kernel target (forky: kernel 7.2 nvmet, tlshd 1.4), one VM boot. The nvmet port is switched to
/// <c>addr_tsas=tls1.3</c> with <c>addr_treq="not required"</c> and tlshd runs in the guest; the host has a configfs
/// dhchap_key (hmac(sha256) or hmac(sha384), ffdhe2048) and no TLS key at all: the only PSK the guest's keyring can
/// find for our TLS reconnect is the one nvmet generated (nvmet_auth_insert_psk) from the exchange on the plain
/// admin queue.
/// </summary>
[TestFixture]
[NonParallelizable]
[Category("Interop")]
public sealed class LinuxTargetConcatTests
{
    private static readonly Guid HostAId = Guid.NewGuid();
    private static readonly Guid HostBId = Guid.NewGuid();
    private static readonly string HostA = "nqn.2014-08.org.nvmexpress:uuid:" + HostAId;
    private static readonly string HostB = "nqn.2014-08.org.nvmexpress:uuid:" + HostBId;
    private readonly string _keyA = Secret(1, 32, HostA);
    private readonly string _keyB = Secret(2, 48, HostB);
    private LinuxTargetVm? _vm;

    private LinuxTargetVm Vm => _vm ?? throw new InvalidOperationException("VM not started");

    [OneTimeSetUp]
    public async Task BootTarget()
    {
        // configfs refuses addr_tsas/addr_treq changes on an enabled port: unlink the subsystem, change, relink.
        string setup = string.Join('\n',
            "NVMEVM_TLSHD_LOGLEVEL=${NVMEVM_TLSHD_LOGLEVEL:-1}; tls_start || exit 1",
            // the target runs until killed: stream its kernel and tlshd messages to the console as they come
            "( touch /tmp/tlshd.log; tail -f /tmp/tlshd.log | sed 's/^/  tlshd: /' ) &",
            "( while sleep 2; do dmesg -c 2>/dev/null | grep -iE 'nvme|tls|key' | sed 's/^/  dmesg: /'; done ) &",
            "P=\"$NVMET/ports/1\"; rm \"$P/subsystems/$NQN\" || exit 1",
            "echo tls1.3 > \"$P/addr_tsas\" && echo 'not required' > \"$P/addr_treq\" || exit 1",
            "ln -s \"$NVMET/subsystems/$NQN\" \"$P/subsystems/$NQN\" || exit 1",
            "echo 0 > \"$NVMET/subsystems/$NQN/attr_allow_any_host\"",
            Host(HostA, "hmac(sha256)", "ffdhe2048", _keyA),
            Host(HostB, "hmac(sha384)", "ffdhe2048", _keyB),
            "msg \"nvmet: port 1 tsas=$(cat $P/addr_tsas) treq=$(cat $P/addr_treq); concat hosts: $(ls \"$NVMET/subsystems/$NQN/allowed_hosts\" | tr '\\n' ' ')\"");
        _vm = await LinuxTargetVm.BootOrIgnoreAsync(() => LinuxTargetVm.StartWithSetupAsync(TimeSpan.FromSeconds(240), "forky", setup), "the Linux concatenation target VM");
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

    [TestCase("A", NvmeMultipathPolicy.Disabled, "NVMe1G01", TestName = "HostA_Sha256_Concat_OverTcp_ReadsBackWhatItWrote")]
    [TestCase("B", NvmeMultipathPolicy.Disabled, "NVMe1G02", TestName = "HostB_Sha384_Concat_OverTcp_ReadsBackWhatItWrote")]
    [TestCase("A", NvmeMultipathPolicy.Preferred, "NVMe1G01", TestName = "HostA_Sha256_Concat_MptcpPreferred_ReadsBackWhatItWrote")]
    [TestCase("B", NvmeMultipathPolicy.Preferred, "NVMe1G02", TestName = "HostB_Sha384_Concat_MptcpPreferred_ReadsBackWhatItWrote")]
    public async Task Concatenates_ThenEveryQueueUsesTheGeneratedPsk_AndVerifiesIo(string host, NvmeMultipathPolicy multipath, string prefix)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        await using var controller = await NvmeController.ConnectAsync(Options(host, multipath));
        TestContext.Out.WriteLine($"concatenated and reconnected (admin + 2 I/O queues over TLS) in {started.ElapsedMilliseconds} ms");
        var paths = controller.GetQueuePaths();
        foreach (var path in paths)
        {
            TestContext.Out.WriteLine($"queue {path.QueueId}: {path.Transport} {path.Tls?.CipherSuiteName} {path.Tls?.PskIdentity}");
        }

        Assert.That(paths, Has.Count.EqualTo(3));
        Assert.That(paths.Select(p => p.Tls?.PskIdentity), Has.All.StartWith($"{prefix} {(host == "A" ? HostA : HostB)} {LinuxTargetVm.SubsystemNqn} "));
        var ns = await controller.OpenNamespaceAsync(1);
        var written = new byte[1 << 20];
        Random.Shared.NextBytes(written);
        var read = new byte[written.Length];
        await ns.WriteAsync(0, written);
        await ns.ReadAsync(0, read);
        Assert.That(read.AsSpan().SequenceEqual(written), Is.True, "read-back differs from what was written");
    }

    [Test]
    public async Task WrongHostSecret_IsRefusedBeforeAnyTls()
    {
        var refused = await NvmetRefusal.ExpectFailure1Async(() => Options("A", NvmeMultipathPolicy.Disabled) with { DhChapSecret = Secret(1, 32, HostA) }, () => Vm.ConsoleTail);
        Assert.That(refused.RejectedByController, Is.True, "nvmet sent Failure1");
    }

    private NvmeControllerOptions Options(string host, NvmeMultipathPolicy multipath) => NvmeControllerOptions.Default with
    {
        TargetPort = Vm.Port,
        SubsystemNqn = LinuxTargetVm.SubsystemNqn,
        HostNqn = host == "A" ? HostA : HostB,
        HostId = host == "A" ? HostAId : HostBId,
        IoQueueCount = 2,
        Multipath = multipath,
        DhChapSecret = host == "A" ? _keyA : _keyB,
        SecureConcat = true,
        ReconnectDelay = TimeSpan.FromSeconds(1),
        ControllerLossTimeout = TimeSpan.FromSeconds(5),
        ConnectTimeout = TimeSpan.FromSeconds(30),
    };

    private static string Secret(byte transform, int length, string? nqn)
    {
        using var secret = DhChapSecret.Generate(transform, length, nqn);
        return secret.ToInterchange();
    }

    /// <summary>configfs: the host's hash, group and key, allowed on the subsystem.</summary>
    private static string Host(string nqn, string hash, string group, string key) =>
        $"H=\"$NVMET/hosts/{nqn}\"; mkdir \"$H\" && echo '{hash}' > \"$H/dhchap_hash\" && echo '{group}' > \"$H/dhchap_dhgroup\" && " +
        $"echo '{key}' > \"$H/dhchap_key\" && ln -s \"$H\" \"$NVMET/subsystems/$NQN/allowed_hosts/{nqn}\" || exit 1";
}
