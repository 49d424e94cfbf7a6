using NvmeMptls.Crypto.Auth;
using NvmeMptls.Initiator;

namespace NvmeMptls.IntegrationTests.Interop;

/// <summary>
/// Our initiator authenticating in band (DH-HMAC-CHAP) to the Linux kernel target (trixie: kernel 6.12 nvmet), one
/// VM boot. The subsystem admits two hosts, each with its configfs dhchap_key / dhchap_ctrl_key / dhchap_hash /
/// dhchap_dhgroup (nvmet picks the configured hash and group from what the host offers):
/// <list type="bullet">
/// <item>host A: hmac(sha512), ffdhe3072, host key transformed with SHA-256 (01), controller key with SHA-512 (03);</item>
/// <item>host B: hmac(sha256), null group, untransformed 48-byte host key (00), no controller key;</item>
/// <item>host C: hmac(sha384), ffdhe4096, host and controller keys transformed with SHA-384 (02);</item>
/// <item>host D: hmac(sha256), ffdhe6144, host key 01, no controller key;</item>
/// <item>host E: hmac(sha512), ffdhe8192, host key 03, controller key 01.</item>
/// </list>
/// </summary>
[TestFixture]
[NonParallelizable]
[Category("Interop")]
public sealed class LinuxTargetDhChapTests
{
    private static readonly Guid HostAId = Guid.NewGuid();
    private static readonly Guid HostBId = Guid.NewGuid();
    private static readonly string HostA = "nqn.2014-08.org.nvmexpress:uuid:" + HostAId;
    private static readonly string HostB = "nqn.2014-08.org.nvmexpress:uuid:" + HostBId;
    private readonly string _keyA = Secret(1, 32, HostA);
    private readonly string _ctrlKeyA = Secret(3, 64, LinuxTargetVm.SubsystemNqn);
    private readonly string _keyB = Secret(0, 48, null);
    private readonly Dictionary<string, (Guid Id, string Key, string? CtrlKey)> _more = NewHosts();
    private LinuxTargetVm? _vm;

    private LinuxTargetVm Vm => _vm ?? throw new InvalidOperationException("VM not started");

    [OneTimeSetUp]
    public async Task BootTarget()
    {
        // nvmet refuses allowed_hosts links while attr_allow_any_host is 1
        string setup = string.Join('\n',
            "echo 0 > \"$NVMET/subsystems/$NQN/attr_allow_any_host\"",
            Host(HostA, "hmac(sha512)", "ffdhe3072", _keyA, _ctrlKeyA),
            Host(HostB, "hmac(sha256)", "null", _keyB, null),
            Host(Nqn(_more["C"].Id), "hmac(sha384)", "ffdhe4096", _more["C"].Key, _more["C"].CtrlKey),
            Host(Nqn(_more["D"].Id), "hmac(sha256)", "ffdhe6144", _more["D"].Key, null),
            Host(Nqn(_more["E"].Id), "hmac(sha512)", "ffdhe8192", _more["E"].Key, _more["E"].CtrlKey),
            "msg \"nvmet: DH-HMAC-CHAP hosts: $(ls \"$NVMET/subsystems/$NQN/allowed_hosts\" | tr '\\n' ' ')\"");
        _vm = await LinuxTargetVm.BootOrIgnoreAsync(() => LinuxTargetVm.StartWithSetupAsync(TimeSpan.FromSeconds(180), "trixie", setup), "the Linux DH-HMAC-CHAP target VM");
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

    [TestCase("A", true, TestName = "HostA_Sha512_Ffdhe3072_Bidirectional_ReadsBackWhatItWrote")]
    [TestCase("A", false, TestName = "HostA_Sha512_Ffdhe3072_Unidirectional_ReadsBackWhatItWrote")]
    [TestCase("B", false, TestName = "HostB_Sha256_NullGroup_Unidirectional_ReadsBackWhatItWrote")]
    [TestCase("C", true, TestName = "HostC_Sha384_Ffdhe4096_Bidirectional_ReadsBackWhatItWrote")]
    [TestCase("D", false, TestName = "HostD_Sha256_Ffdhe6144_Unidirectional_ReadsBackWhatItWrote")]
    [TestCase("E", true, TestName = "HostE_Sha512_Ffdhe8192_Bidirectional_ReadsBackWhatItWrote")]
    public async Task Authenticates_AllQueues_ThenVerifiesIo(string host, bool bidirectional)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var (key, ctrlKey) = host switch
        {
            "A" => (_keyA, _ctrlKeyA),
            "B" => (_keyB, null),
            _ => (_more[host].Key, _more[host].CtrlKey),
        };
        await using var controller = await NvmeController.ConnectAsync(Options(host, key, bidirectional ? ctrlKey : null));
        TestContext.Out.WriteLine($"connected (admin + 2 I/O queues authenticated) in {started.ElapsedMilliseconds} ms");
        Assert.That(controller.State, Is.EqualTo(NvmeControllerState.Live));
        Assert.That(controller.IoQueueCount, Is.EqualTo(2));
        var ns = await controller.OpenNamespaceAsync(1);
        var written = new byte[1 << 20];
        Random.Shared.NextBytes(written);
        var read = new byte[written.Length];
        await ns.WriteAsync(0, written);
        await ns.ReadAsync(0, read);
        Assert.That(read.AsSpan().SequenceEqual(written), Is.True, "read-back differs from what was written");
    }

    [Test]
    public async Task WrongHostSecret_IsRefused()
    {
        string wrong = Secret(0, 48, null);
        var refused = await NvmetRefusal.ExpectFailure1Async(() => Options("B", wrong, null), () => Vm.ConsoleTail);
        TestContext.Out.WriteLine(refused);
        Assert.That(refused.RejectedByController, Is.True, "nvmet sent Failure1");
    }

    [Test]
    public void WrongControllerSecret_IsRejectedByOurInitiator()
    {
        string wrong = Secret(3, 64, LinuxTargetVm.SubsystemNqn);
        // nvmet closes the connection on our Failure2 before completing the AUTH_Send; our verdict is still reported
        var rejected = Assert.ThrowsAsync<NvmeAuthenticationException>(async () =>
        {
            await using var controller = await NvmeController.ConnectAsync(Options("A", _keyA, wrong));
        }, Vm.ConsoleTail);
        TestContext.Out.WriteLine(rejected);
        Assert.That(rejected!.RejectedByController, Is.False, "our initiator refused the controller (Failure2)");
    }

    private NvmeControllerOptions Options(string host, string secret, string? controllerSecret) => NvmeControllerOptions.Default with
    {
        TargetPort = Vm.Port,
        SubsystemNqn = LinuxTargetVm.SubsystemNqn,
        HostNqn = Nqn(HostId(host)),
        HostId = HostId(host),
        IoQueueCount = 2,
        DhChapSecret = secret,
        DhChapControllerSecret = controllerSecret,
        ReconnectDelay = TimeSpan.FromSeconds(1),
        ControllerLossTimeout = TimeSpan.FromSeconds(5),
        ConnectTimeout = TimeSpan.FromSeconds(30),
        // ffdhe6144/8192 cost the guest kernel seconds per transaction on a loaded host (see LinuxHostDhChapTests).
        KeepAliveTimeout = host is "D" or "E" ? TimeSpan.FromSeconds(30) : NvmeControllerOptions.Default.KeepAliveTimeout,
    };

    private Guid HostId(string host) => host switch
    {
        "A" => HostAId,
        "B" => HostBId,
        _ => _more[host].Id,
    };

    private static string Nqn(Guid id) => "nqn.2014-08.org.nvmexpress:uuid:" + id;

    private static Dictionary<string, (Guid Id, string Key, string? CtrlKey)> NewHosts()
    {
        Guid c = Guid.NewGuid(), d = Guid.NewGuid(), e = Guid.NewGuid();
        return new Dictionary<string, (Guid, string, string?)>(StringComparer.Ordinal)
        {
            ["C"] = (c, Secret(2, 48, Nqn(c)), Secret(2, 48, LinuxTargetVm.SubsystemNqn)),
            ["D"] = (d, Secret(1, 32, Nqn(d)), null),
            ["E"] = (e, Secret(3, 64, Nqn(e)), Secret(1, 32, LinuxTargetVm.SubsystemNqn)),
        };
    }

    private static string Secret(byte transform, int length, string? nqn)
    {
        using var secret = DhChapSecret.Generate(transform, length, nqn);
        return secret.ToInterchange();
    }

    /// <summary>configfs: the host's hash, group and keys, allowed on the subsystem.</summary>
    private static string Host(string nqn, string hash, string group, string key, string? ctrlKey) =>
        $"H=\"$NVMET/hosts/{nqn}\"; mkdir \"$H\" && echo '{hash}' > \"$H/dhchap_hash\" && echo '{group}' > \"$H/dhchap_dhgroup\" && " +
        $"echo '{key}' > \"$H/dhchap_key\" && " + (ctrlKey is null ? "" : $"echo '{ctrlKey}' > \"$H/dhchap_ctrl_key\" && ") +
        $"ln -s \"$H\" \"$NVMET/subsystems/$NQN/allowed_hosts/{nqn}\" || exit 1";
}
