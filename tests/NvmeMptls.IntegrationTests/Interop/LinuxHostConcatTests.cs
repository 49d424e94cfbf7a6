using System.Globalization;
using System.Text.Json;
using NvmeMptls.Crypto.Auth;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Interop;

/// <summary>
/// Secure channel concatenation (TP 8018) of the Linux kernel host (forky: kernel 7.2, nvme-cli 2.16, tlshd 1.4) against
/// our target, one VM boot: <c>nvme connect --concat --dhchap-secret … [--dhchap-ctrl-secret …]</c>. The kernel
/// authenticates its admin queue in the clear with SC_C NEWTLSPSK, derives the generated PSK, drops the connection and
/// reconnects admin and I/O queues with TLS (tlshd) under the <c>NVMe1G…</c> identity, which our target accepts from
/// its generated-PSK store on a port with TLS "optional" and no configured TLS key; then a verified O_DIRECT
/// write/read. Host A is required to concatenate (Target:DhChap:Hosts:N:SecureConcat: ATR|ASCR; connecting without
/// --concat is refused), host B is not (it concatenates on its own, as with the Linux target). Writing the secret to
/// sysfs dhchap_secret re-authenticates a concatenated controller with SC_C REPLACETLSPSK on its TLS admin queue.
/// </summary>
[TestFixture]
[Category("Interop")]
[NonParallelizable]
public sealed class LinuxHostConcatTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:concat";
    private static readonly string HostAId = Guid.NewGuid().ToString();
    private static readonly string HostBId = Guid.NewGuid().ToString();
    private static readonly string HostA = "nqn.2014-08.org.nvmexpress:uuid:" + HostAId;
    private static readonly string HostB = "nqn.2014-08.org.nvmexpress:uuid:" + HostBId;
    private TargetRunner? _target;
    private LinuxVmOutput? _vm;
    private string? _config;

    private LinuxVmOutput Vm => _vm ?? throw new InvalidOperationException("no VM run");

    private TargetRunner Target => _target ?? throw new InvalidOperationException("no target");

    [OneTimeSetUp]
    public async Task BootAsync()
    {
        LinuxVm.IgnoreUnlessAvailable();
        using var keyA = DhChapSecret.Generate(1, 32, HostA);
        using var keyB = DhChapSecret.Generate(0, 48, null);
        using var ctrlB = DhChapSecret.Generate(2, 48, Nqn);
        var hosts = new object[]
        {
            new Dictionary<string, object>
            {
                ["HostNqn"] = HostA, ["SubsystemNqn"] = Nqn, ["Secret"] = keyA.ToInterchange(), ["SecureConcat"] = true,
                ["Hashes"] = new[] { "sha256" }, ["DhGroups"] = new[] { "ffdhe2048" },
            },
            new Dictionary<string, object>
            {
                ["HostNqn"] = HostB, ["SubsystemNqn"] = Nqn, ["Secret"] = keyB.ToInterchange(), ["ControllerSecret"] = ctrlB.ToInterchange(),
                ["Hashes"] = new[] { "sha384" }, ["DhGroups"] = new[] { "ffdhe3072" },
            },
        };
        string[] lines =
        [
            $"a-required|{HostA}|{HostAId}|{keyA.ToInterchange()}|-|ok",
            $"b-optional|{HostB}|{HostBId}|{keyB.ToInterchange()}|{ctrlB.ToInterchange()}|ok",
            $"a-noconcat|{HostA}|{HostAId}|{keyA.ToInterchange()}|-|refused",
        ];
        _config = Path.Combine(Path.GetTempPath(), $"nvme-iop-concat.{Environment.ProcessId}.json");
        await File.WriteAllTextAsync(_config, JsonSerializer.Serialize(new { Target = new { DhChap = new { Hosts = hosts } } }));
        _target = await TargetRunner.StartAsync("--config", _config, "--nqn", Nqn, "--memory-ns", "64MiB", "--tls", "optional");
        var variables = new Dictionary<string, string>
        {
            ["IOP_PORT"] = Target.Port.ToString(CultureInfo.InvariantCulture),
            ["IOP_NQN"] = Nqn,
            ["IOP_MB"] = "4",
            ["IOP_CASES"] = string.Join(';', lines),
        };
        _vm = await LinuxVm.RunAsync(variables, ["concat.sh"], Target.Port, harnessOptions: ["--suite", "forky"]);
        TestContext.Progress.WriteLine($"concat VM boot (forky): {Vm.Elapsed.TotalSeconds:F0} s, guest rc={Vm.GuestRc}");
    }

    [OneTimeTearDown]
    public void StopTarget()
    {
        if (_target is not null)
        {
            TestContext.Progress.WriteLine("target log:\n" + _target.Log);
        }

        _target?.Dispose();
        if (_config is not null)
        {
            File.Delete(_config);
        }
    }

    [Test]
    public void GuestRanToTheEnd()
    {
        Assert.That(Vm.GuestStarted, Is.True, Vm.Console());
        Assert.That(Vm.GuestRc, Is.Not.Null, "no NVMEVM-GUEST-END marker\n" + Vm.Console());
        Vm.AssertCheck("nvme-auth-module");
    }

    [TestCase("a-required", "01", "sha256, ffdhe2048", TestName = "KernelHost_ConcatRequired_Sha256_Ffdhe2048_ReconnectsWithTlsAndVerifiesIo")]
    [TestCase("b-optional", "02", "sha384, ffdhe3072", TestName = "KernelHost_ConcatNotRequired_Sha384_Ffdhe3072_WithCtrlSecret_ReconnectsWithTlsAndVerifiesIo")]
    public void KernelHostConcatenates(string name, string cipher, string negotiated)
    {
        string host = name.StartsWith('a') ? HostA : HostB;
        Vm.AssertCheck($"connect-{name}");
        Vm.AssertCheck($"io-{name}");
        Vm.AssertCheck($"disconnect-{name}");
        string identity = Vm.Value($"concat.{name}.identity");
        TestContext.Out.WriteLine($"{name}: connect {Vm.Values.GetValueOrDefault($"concat.{name}.time")}, identity {identity}");
        string[] log = Target.Log.Split('\n');
        Assert.Multiple(() =>
        {
            Assert.That(identity, Does.StartWith($"NVMe1G{cipher} {host} {Nqn} "), "the kernel's keyring holds a generated identity");
            Assert.That(log.Any(l => l.Contains($"host {host} concatenated (NEWTLSPSK): TLS PSK {identity} generated", StringComparison.Ordinal)), Is.True,
                "our target generated the same identity\n" + Target.Log);
            Assert.That(log.Any(l => l.Contains($"of host {host} authenticated (DH-HMAC-CHAP {negotiated}, unidirectional)", StringComparison.Ordinal)), Is.True,
                "one plain admin queue authenticated (the kernel sends SEQNUM 0 under concatenation)");
            Assert.That(log.Count(l => l.Contains($"identity '{identity}'", StringComparison.Ordinal)), Is.GreaterThanOrEqualTo(3),
                "admin and two I/O queues handshook with the generated PSK");
            Assert.That(Vm.Value($"concat.{name}.queues"), Is.EqualTo("2"));
        });
    }

    [TestCase("a-required")]
    [TestCase("b-optional")]
    public void KernelHostReauthentication_ReplacesTheGeneratedPsk(string name)
    {
        string host = name.StartsWith('a') ? HostA : HostB;
        Vm.AssertCheck($"replace-{name}");
        Vm.AssertCheck($"io-after-replace-{name}");
        string replaced = Vm.Value($"concat.{name}.replaced");
        TestContext.Out.WriteLine($"{name}: {Vm.Value($"concat.{name}.identity")} -> {replaced}");
        Assert.That(Target.Log, Does.Contain($"host {host} concatenated (REPLACETLSPSK): TLS PSK {replaced} generated"),
            "the kernel re-keyed with SC_C REPLACETLSPSK on its TLS admin queue and our target derived the same new identity");
    }

    [Test]
    public void KernelHostWithoutConcat_IsRefused_WhenTheTargetRequiresIt()
    {
        Vm.AssertCheck("a-noconcat");
        TestContext.Out.WriteLine(Vm.Values.GetValueOrDefault("concat.a-noconcat.error"));
    }
}
